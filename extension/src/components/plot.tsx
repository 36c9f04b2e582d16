/**
 * A Plotly.js chart that follows JupyterLab's theme. Plotly is loaded on
 * first use (its own chunk), so the panel opens without it.
 */
import React, { useEffect, useRef, useState } from 'react';

import { useLabdeck, useSignal } from '../context';
import type { IFigure, ITheme } from '../views/runs/chart';
import { ErrorNote, Loading } from './ui';

type PlotlyModule = typeof import('plotly.js-basic-dist-min');

let plotly: Promise<PlotlyModule> | null = null;
function loadPlotly(): Promise<PlotlyModule> {
  // A UMD bundle: the bundler hands it over as the default export.
  plotly ??= import('plotly.js-basic-dist-min').then(
    mod => (mod as unknown as { default?: PlotlyModule }).default ?? mod
  );
  return plotly;
}

function cssVar(name: string, fallback: string): string {
  const value = getComputedStyle(document.body).getPropertyValue(name).trim();
  return value || fallback;
}

/** Chart colours from JupyterLab's CSS variables: right in light and dark themes. */
export function currentTheme(): ITheme {
  return {
    font: cssVar('--jp-ui-font-color1', '#222'),
    background: cssVar('--jp-layout-color1', '#fff'),
    grid: cssVar('--jp-border-color2', '#ddd'),
    band: cssVar('--jp-labdeck-band', 'rgba(128,128,128,0.14)'),
    bandAlt: cssVar('--jp-labdeck-band-alt', 'rgba(128,128,128,0.24)'),
    colorway: [
      cssVar('--jp-brand-color1', '#1976d2'),
      cssVar('--jp-warn-color1', '#f57c00'),
      cssVar('--jp-success-color1', '#388e3c'),
      cssVar('--jp-error-color1', '#d32f2f'),
      cssVar('--jp-accent-color1', '#7b1fa2'),
      '#00838f',
      '#6d4c41',
      '#5c6bc0'
    ]
  };
}

export function Plot(props: {
  figure: (theme: ITheme) => IFigure;
  label: string;
  height?: number;
}): JSX.Element {
  const { themeChanged } = useLabdeck();
  const themeVersion = useSignal(themeChanged);
  const node = useRef<HTMLDivElement>(null);
  const [error, setError] = useState<unknown>(undefined);
  const [ready, setReady] = useState(false);
  const { figure } = props;

  useEffect(() => {
    let live = true;
    loadPlotly().then(
      Plotly => {
        if (!live || node.current === null) {
          return;
        }
        const { data, layout } = figure(currentTheme());
        void Plotly.react(
          node.current,
          data as Plotly.Data[],
          { ...layout, height: props.height ?? 300, autosize: true } as Partial<Plotly.Layout>,
          { displaylogo: false, responsive: true, modeBarButtonsToRemove: ['lasso2d', 'select2d'] }
        ).then(() => live && setReady(true));
      },
      err => live && setError(err)
    );
    return () => {
      live = false;
    };
  }, [figure, themeVersion, props.height]);

  useEffect(() => {
    const el = node.current;
    if (el === null) {
      return;
    }
    const observer = new ResizeObserver(() => {
      if (ready) {
        void loadPlotly().then(Plotly => Plotly.Plots.resize(el));
      }
    });
    observer.observe(el);
    return () => observer.disconnect();
  }, [ready]);

  useEffect(
    () => () => {
      const el = node.current;
      if (el !== null) {
        void loadPlotly().then(Plotly => Plotly.purge(el));
      }
    },
    []
  );

  return (
    <div className="jp-labdeck-plot-wrap">
      {!ready && error === undefined && <Loading what="the chart" />}
      <ErrorNote error={error} />
      <div className="jp-labdeck-plot" role="img" aria-label={props.label} ref={node} />
    </div>
  );
}
