import { describe, expect, it } from 'vitest';

import { startCode } from '../src/magic';
import {
  formatBytes,
  formatDateTime,
  formatDuration,
  formatPercent,
  runSeconds
} from '../src/format';
import { statusFigures } from '../src/figures';
import { refreshSeconds } from '../src/preferences';

describe('figures as people read them', () => {
  it('formats sizes, durations and percentages', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1536)).toBe('1.54 KB');
    expect(formatBytes(100e9)).toBe('100 GB');
    expect(formatDuration(45)).toBe('45 s');
    expect(formatDuration(185)).toBe('3 min 05 s');
    expect(formatDuration(2 * 3600 + 7 * 60)).toBe('2 h 07 min');
    expect(formatDuration(76 * 3600)).toBe('3 d 4 h');
    expect(formatPercent(3.14159)).toBe('3.1%');
    expect(formatPercent(55.5)).toBe('56%');
    expect(formatPercent(undefined)).toBe('–');
  });

  it('shows server times as local dates, never ISO strings or epoch seconds', () => {
    const now = new Date('2026-06-01T12:00:00Z');
    const thisYear = formatDateTime('2026-03-04T05:06:00+00:00', now);
    expect(thisYear).not.toMatch(/2026|T05|\+00/);
    expect(thisYear).toMatch(/Mar|3/);
    expect(formatDateTime('2024-03-04T05:06:00+00:00', now)).toMatch(/2024/);
    expect(formatDateTime(null)).toBe('–');
    expect(formatDateTime('not a time')).toBe('–');
  });

  it('measures a run to its end, or to now while it runs', () => {
    expect(runSeconds('2026-01-01T00:00:00+00:00', '2026-01-01T00:01:30+00:00')).toBe(90);
    const now = Date.parse('2026-01-01T00:00:10+00:00');
    expect(runSeconds('2026-01-01T00:00:00+00:00', null, now)).toBe(10);
  });

  it('picks the status bar figures from a run’s latest values', () => {
    expect(
      statusFigures({ cpu: 12.5, 'proc.memory.rssMB': 1530, 'gpu.0.gpu': 80, 'gpu.1.gpu': 40 })
    ).toEqual({ cpu: 12.5, memory: '1.5 GB', gpu: 60 });
    expect(statusFigures({ 'proc.memory.rssMB': 420.4 })).toEqual({
      cpu: undefined,
      memory: '420 MB',
      gpu: undefined
    });
  });

  it('never refreshes faster than the run samples', () => {
    expect(refreshSeconds(5, { interval: 10 })).toBe(10);
    expect(refreshSeconds(5, { interval: 0.5 })).toBe(5);
    expect(refreshSeconds(5, undefined)).toBe(5);
  });

  it('starts monitoring in the preferred project, quoted for the magic', () => {
    expect(startCode('')).toBe('%load_ext labdeck\n%labdeck start --no-chart');
    expect(startCode('acme/vision')).toBe(
      '%load_ext labdeck\n%labdeck start --no-chart --project "acme/vision"'
    );
  });
});
