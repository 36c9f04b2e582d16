/**
 * The figures of the Runs tab, as plain data for Plotly: series on an
 * elapsed-time axis (seconds, minutes or hours after the run started, never
 * epoch timestamps), each executed cell as a band labelled with its
 * execution count, and several runs overlaid from their own starts.
 *
 * Plotly reads a few HTML tags in trace names and annotations; every text
 * that comes from people (run names, metric keys with scraped labels, cell
 * source) is escaped so that it shows as typed.
 */
import type { CellMarker, Metrics } from '../../api/client';

export interface IElapsedUnit {
  /** Seconds per axis unit. */
  divisor: number;
  label: string;
  short: string;
}

/** The unit that keeps the axis readable for a span of `seconds`. */
export function elapsedUnit(seconds: number): IElapsedUnit {
  if (seconds <= 180) {
    return { divisor: 1, label: 'seconds', short: 's' };
  }
  if (seconds <= 3 * 3600) {
    return { divisor: 60, label: 'minutes', short: 'min' };
  }
  return { divisor: 3600, label: 'hours', short: 'h' };
}

/** Text that Plotly shows literally (its markup and entities neutralised). */
export function plotlyText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export interface ITheme {
  font: string;
  background: string;
  grid: string;
  band: string;
  bandAlt: string;
  colorway: string[];
}

export interface IFigure {
  data: Array<Record<string, unknown>>;
  layout: Record<string, unknown>;
}

function lastTime(series: Metrics['series'], fallback: number): number {
  let last = fallback;
  for (const s of Object.values(series)) {
    if (s.t.length) {
      last = Math.max(last, s.t[s.t.length - 1]);
    }
  }
  return last;
}

function baseLayout(theme: ITheme, unit: IElapsedUnit, yTitle: string): Record<string, unknown> {
  const axis = {
    gridcolor: theme.grid,
    zerolinecolor: theme.grid,
    linecolor: theme.grid,
    color: theme.font,
    automargin: true
  };
  return {
    paper_bgcolor: theme.background,
    plot_bgcolor: theme.background,
    font: { color: theme.font, size: 11 },
    colorway: theme.colorway,
    margin: { l: 48, r: 12, t: 28, b: 40 },
    xaxis: { ...axis, title: { text: `elapsed (${unit.label})` }, rangemode: 'tozero' },
    yaxis: { ...axis, title: { text: yTitle }, rangemode: 'tozero' },
    legend: { orientation: 'h', y: -0.3, x: 0, font: { size: 10 } },
    hovermode: 'x unified',
    showlegend: true
  };
}

/**
 * One run: the chosen keys as lines, x in elapsed `unit`s from the run's
 * start; each cell marker a band from its start to its end (or to the last
 * point while it still runs), labelled `[n]` at the top.
 */
export function runFigure(
  metrics: Metrics,
  keys: string[],
  markers: CellMarker[],
  runStart: number,
  theme: ITheme,
  yTitle = 'value'
): IFigure {
  const end = lastTime(metrics.series, runStart);
  const unit = elapsedUnit(end - runStart);
  const x = (t: number) => (t - runStart) / unit.divisor;
  const data = keys
    .filter(key => key in metrics.series)
    .map(key => {
      const s = metrics.series[key];
      return {
        type: 'scatter',
        mode: s.t.length > 1 ? 'lines' : 'markers',
        name: plotlyText(key),
        x: s.t.map(x),
        y: s.v,
        hovertemplate: `%{y:.4~g}<extra>${plotlyText(key)}</extra>`
      };
    });
  const shapes: Array<Record<string, unknown>> = [];
  const annotations: Array<Record<string, unknown>> = [];
  markers.forEach((m, i) => {
    const x0 = x(m.start_t);
    const x1 = x(m.end_t ?? Math.max(end, m.start_t));
    shapes.push({
      type: 'rect',
      xref: 'x',
      yref: 'paper',
      x0,
      x1: Math.max(x1, x0),
      y0: 0,
      y1: 1,
      fillcolor: i % 2 ? theme.bandAlt : theme.band,
      line: { width: 0 },
      layer: 'below'
    });
    annotations.push({
      xref: 'x',
      yref: 'paper',
      x: (x0 + Math.max(x1, x0)) / 2,
      y: 1,
      yanchor: 'bottom',
      showarrow: false,
      text: m.execution_count === null ? '[ ]' : `[${m.execution_count}]`,
      hovertext: plotlyText(m.first_line || '(empty cell)'),
      font: { size: 10, color: theme.font }
    });
  });
  return {
    data,
    layout: { ...baseLayout(theme, unit, yTitle), shapes, annotations }
  };
}

export interface IOverlayRun {
  name: string;
  /** Unix seconds the run started at. */
  start: number;
  metrics: Metrics;
}

/** Several runs' `key` on one axis, each from its own start (elapsed 0). */
export function overlayFigure(runs: IOverlayRun[], key: string, theme: ITheme): IFigure {
  let span = 0;
  for (const run of runs) {
    span = Math.max(span, lastTime(run.metrics.series, run.start) - run.start);
  }
  const unit = elapsedUnit(span);
  const data = runs
    .filter(run => key in run.metrics.series)
    .map(run => {
      const s = run.metrics.series[key];
      return {
        type: 'scatter',
        mode: s.t.length > 1 ? 'lines' : 'markers',
        name: plotlyText(run.name),
        x: s.t.map(t => (t - run.start) / unit.divisor),
        y: s.v,
        hovertemplate: `%{y:.4~g}<extra>${plotlyText(run.name)}</extra>`
      };
    });
  return { data, layout: baseLayout(theme, unit, plotlyText(key)) };
}

/** The keys a run chart starts with: the CPU, memory and GPU utilisation figures. */
export function defaultKeys(available: string[]): string[] {
  const wanted = available.filter(
    k => k === 'cpu' || k === 'memory' || k === 'proc.memory.percent' || /^gpu\.\d+\.gpu$/.test(k)
  );
  return wanted.length ? wanted : available.slice(0, 3);
}
