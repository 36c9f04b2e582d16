/** The status bar's figures, picked from a run's latest values by their keys (docs/metrics.md). */

export interface IFigures {
  cpu?: number;
  memory?: string;
  gpu?: number;
}

/** The status bar's three figures from a run's latest values (docs/metrics.md keys). */
export function statusFigures(latest: Record<string, number>): IFigures {
  const gpus = Object.keys(latest)
    .filter(k => /^gpu\.\d+\.gpu$/.test(k))
    .map(k => latest[k]);
  const rss = latest['proc.memory.rssMB'];
  return {
    cpu: latest['cpu'],
    memory:
      rss === undefined
        ? undefined
        : rss >= 1000
          ? `${(rss / 1000).toFixed(1)} GB`
          : `${Math.round(rss)} MB`,
    gpu: gpus.length ? gpus.reduce((a, b) => a + b, 0) / gpus.length : undefined
  };
}
