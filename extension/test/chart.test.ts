import { describe, expect, it } from 'vitest';

import type { CellMarker, Metrics } from '../src/api/client';
import {
  defaultKeys,
  elapsedUnit,
  ITheme,
  overlayFigure,
  plotlyText,
  runFigure
} from '../src/views/runs/chart';

const theme: ITheme = {
  font: '#111',
  background: '#fff',
  grid: '#ddd',
  band: 'rgba(0,0,0,0.1)',
  bandAlt: 'rgba(0,0,0,0.2)',
  colorway: ['#00f']
};

const START = 1_700_000_000;

function marker(n: number | null, start: number, end: number | null, line = 'x = 1'): CellMarker {
  return {
    id: n ?? 0,
    run_id: 'r',
    execution_count: n,
    first_line: line,
    start_t: START + start,
    end_t: end === null ? null : START + end,
    error: false
  };
}

describe('run charts', () => {
  it('puts time on an elapsed axis, never epoch seconds', () => {
    const metrics: Metrics = {
      series: { cpu: { t: [START, START + 30, START + 60], v: [1, 50, 20] } },
      downsampled: false
    };
    const fig = runFigure(metrics, ['cpu'], [], START, theme);
    expect(fig.data).toHaveLength(1);
    expect(fig.data[0].x).toEqual([0, 30, 60]);
    expect(fig.data[0].y).toEqual([1, 50, 20]);
    const xaxis = fig.layout.xaxis as { title: { text: string } };
    expect(xaxis.title.text).toBe('elapsed (seconds)');
  });

  it('switches to minutes and hours for longer runs', () => {
    expect(elapsedUnit(60).short).toBe('s');
    expect(elapsedUnit(1800)).toMatchObject({ divisor: 60, label: 'minutes' });
    expect(elapsedUnit(5 * 3600)).toMatchObject({ divisor: 3600, label: 'hours' });
    const metrics: Metrics = {
      series: { cpu: { t: [START, START + 600], v: [1, 2] } },
      downsampled: false
    };
    expect(runFigure(metrics, ['cpu'], [], START, theme).data[0].x).toEqual([0, 10]);
  });

  it('draws each cell as a band labelled with its execution count', () => {
    const metrics: Metrics = {
      series: { cpu: { t: [START, START + 100], v: [1, 2] } },
      downsampled: false
    };
    const markers = [marker(3, 10, 20), marker(4, 30, null, '<img src=x onerror=alert(1)>')];
    const fig = runFigure(metrics, ['cpu'], markers, START, theme);
    const shapes = fig.layout.shapes as Array<Record<string, unknown>>;
    const notes = fig.layout.annotations as Array<Record<string, unknown>>;
    expect(shapes.map(s => [s.x0, s.x1])).toEqual([
      [10, 20],
      [30, 100] // a cell still running spans to the last point
    ]);
    expect(shapes[0].yref).toBe('paper');
    expect(notes.map(a => a.text)).toEqual(['[3]', '[4]']);
    // The cell's source is shown as typed, never as markup.
    expect(notes[1].hovertext).toBe('&lt;img src=x onerror=alert(1)&gt;');
    expect(notes[0].x).toBe(15);
  });

  it('overlays runs from their own starts', () => {
    const a: Metrics = {
      series: { cpu: { t: [START, START + 10], v: [1, 2] } },
      downsampled: false
    };
    const b: Metrics = {
      series: { cpu: { t: [START + 500, START + 520], v: [3, 4] } },
      downsampled: false
    };
    const fig = overlayFigure(
      [
        { name: 'first <b>', start: START, metrics: a },
        { name: 'second', start: START + 500, metrics: b }
      ],
      'cpu',
      theme
    );
    expect(fig.data.map(d => d.x)).toEqual([
      [0, 10],
      [0, 20]
    ]);
    expect(fig.data[0].name).toBe('first &lt;b&gt;');
  });

  it('starts with the CPU, memory and GPU utilisation keys', () => {
    expect(defaultKeys(['cpu', 'disk.in', 'gpu.0.gpu', 'gpu.0.temp', 'memory'])).toEqual([
      'cpu',
      'gpu.0.gpu',
      'memory'
    ]);
    expect(defaultKeys(['a', 'b', 'c', 'd'])).toEqual(['a', 'b', 'c']);
    expect(plotlyText('a & b')).toBe('a &amp; b');
  });
});
