/** Runs › compare: one metric of two or more runs overlaid, each from its own start. */
import { Button } from '@jupyterlab/ui-components';
import React, { useCallback, useState } from 'react';

import { unwrap } from '../../api/client';
import { useResource } from '../../components/hooks';
import { Plot } from '../../components/plot';
import { Empty, Section, Select, Show } from '../../components/ui';
import { useLabdeck } from '../../context';
import { formatDuration, runSeconds } from '../../format';
import { IOverlayRun, ITheme, overlayFigure } from './chart';
import { RunState } from './RunState';

const MAX_POINTS = 600;

export function OverlayView(props: { runIds: readonly string[]; onBack: () => void }): JSX.Element {
  const { client } = useLabdeck();
  const loaded = useResource(
    () =>
      Promise.all(
        props.runIds.map(async id => {
          const path = { run_id: id };
          const [run, metrics] = await Promise.all([
            unwrap(client.GET('/labdeck/api/runs/{run_id}', { params: { path } })),
            unwrap(
              client.GET('/labdeck/api/runs/{run_id}/metrics', {
                params: { path, query: { max_points: MAX_POINTS } }
              })
            )
          ]);
          return { run, metrics };
        })
      ),
    [client, props.runIds.join(',')]
  );
  const [key, setKey] = useState<string | null>(null);
  return (
    <div className="jp-labdeck-view" data-view="compare">
      <div className="jp-labdeck-row">
        <Button small minimal onClick={props.onBack} aria-label="Back to the runs">
          ‹ Runs
        </Button>
      </div>
      <Show resource={loaded} what="the runs">
        {list => {
          const keys = Array.from(new Set(list.flatMap(r => Object.keys(r.metrics.series)))).sort();
          const chosen = key && keys.includes(key) ? key : keys.includes('cpu') ? 'cpu' : keys[0];
          const overlay: IOverlayRun[] = list.map(({ run, metrics }) => ({
            name: run.name,
            start: Date.parse(run.created_at) / 1000,
            metrics
          }));
          return (
            <Section title={`Comparing ${list.length} runs`}>
              <ul className="jp-labdeck-list" aria-label="Compared runs">
                {list.map(({ run }) => (
                  <li key={run.id} className="jp-labdeck-item">
                    <div className="jp-labdeck-item-main">
                      <span className="jp-labdeck-strong">{run.name}</span>
                      <RunState state={run.state} />
                      <span className="jp-labdeck-hint">
                        {run.entity}/{run.project} ·{' '}
                        {formatDuration(runSeconds(run.created_at, run.ended_at))}
                      </span>
                    </div>
                  </li>
                ))}
              </ul>
              {keys.length === 0 ? (
                <Empty>These runs recorded no sample.</Empty>
              ) : (
                <>
                  <Select
                    label="Metric"
                    value={chosen}
                    options={keys.map(k => ({ value: k, label: k }))}
                    onChange={setKey}
                  />
                  <OverlayPlot runs={overlay} metric={chosen} />
                </>
              )}
            </Section>
          );
        }}
      </Show>
    </div>
  );
}

function OverlayPlot(props: { runs: IOverlayRun[]; metric: string }): JSX.Element {
  const { runs, metric } = props;
  const figure = useCallback((theme: ITheme) => overlayFigure(runs, metric, theme), [runs, metric]);
  return <Plot figure={figure} label={`${metric} of the compared runs`} height={320} />;
}
