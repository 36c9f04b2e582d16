/**
 * Runs › one run: its state, times and duration, and a Plotly chart of its
 * metrics on an elapsed-time axis with a band per executed cell, refreshed
 * while it runs (never faster than it samples); stop it, export its points.
 */
import { Button } from '@jupyterlab/ui-components';
import React, { useCallback, useEffect, useState } from 'react';

import { unwrap } from '../../api/client';
import { DownloadButton } from '../../components/download';
import { useAction, useInterval, useNow, useResource } from '../../components/hooks';
import { Plot } from '../../components/plot';
import { ActionButton, Checkbox, Empty, Section, Show } from '../../components/ui';
import { useLabdeck, useSignal } from '../../context';
import { formatDateTime, formatDuration, runSeconds } from '../../format';
import { defaultKeys, ITheme, runFigure } from './chart';
import { refreshSeconds } from '../../preferences';
import { RunState } from './RunState';

const MAX_POINTS = 800;
const PERCENT =
  /^(cpu|memory|proc\.memory\.percent|cpu\.\d+\.cpu_percent|gpu\.\d+\.(gpu|memory|memoryAllocated|powerPercent))$/;

export function RunChartView(props: { runId: string; onBack: () => void }): JSX.Element {
  const { client, preferences, model } = useLabdeck();
  useSignal(preferences.changed);
  const path = { params: { path: { run_id: props.runId } } };
  const loaded = useResource(
    () =>
      Promise.all([
        unwrap(client.GET('/labdeck/api/runs/{run_id}', path)),
        unwrap(
          client.GET('/labdeck/api/runs/{run_id}/metrics', {
            params: { path: path.params.path, query: { max_points: MAX_POINTS } }
          })
        ),
        unwrap(client.GET('/labdeck/api/runs/{run_id}/markers', path))
      ]),
    [client, props.runId]
  );
  const run = loaded.loaded.state === 'ready' ? loaded.loaded.data[0] : null;
  useEffect(() => {
    if (run) {
      model.rememberProject(run.entity, run.project);
    }
  }, [model, run?.entity, run?.project]);
  const running = run?.state === 'running';
  useInterval(loaded.reload, refreshSeconds(preferences.refreshSeconds, run?.system), running);
  const now = useNow(1, running);
  const [keys, setKeys] = useState<string[] | null>(null);
  const stop = useAction();

  return (
    <div className="jp-labdeck-view" data-view="run" data-run={props.runId}>
      <div className="jp-labdeck-row">
        <Button small minimal onClick={props.onBack} aria-label="Back to the runs">
          ‹ Runs
        </Button>
      </div>
      <Show resource={loaded} what="the run">
        {([run, metrics, markers]) => {
          const available = Object.keys(metrics.series).sort();
          const shown = (keys ?? defaultKeys(available)).filter(k => available.includes(k));
          return (
            <>
              <Section title={run.name}>
                <dl className="jp-labdeck-facts">
                  <dt>State</dt>
                  <dd>
                    <RunState state={run.state} />
                  </dd>
                  <dt>Project</dt>
                  <dd>
                    {run.entity}/{run.project}
                  </dd>
                  <dt>Started</dt>
                  <dd>{formatDateTime(run.created_at)}</dd>
                  <dt>Duration</dt>
                  <dd>{formatDuration(runSeconds(run.created_at, run.ended_at, now))}</dd>
                  <dt>By</dt>
                  <dd>{run.created_by ?? 'deleted user'}</dd>
                  <dt>Cells</dt>
                  <dd>{markers.length} marked</dd>
                </dl>
                <div className="jp-labdeck-row">
                  {running && (
                    <ActionButton
                      small
                      danger
                      action={stop}
                      onClick={() =>
                        void stop
                          .run(() => unwrap(client.POST('/labdeck/api/runs/{run_id}/stop', path)))
                          .then(ok => ok && loaded.reload())
                      }
                    >
                      Stop run
                    </ActionButton>
                  )}
                  <DownloadButton
                    filename={`${run.id}-metrics.csv`}
                    load={() =>
                      unwrap(
                        client.GET('/labdeck/api/runs/{run_id}/metrics.csv', {
                          ...path,
                          parseAs: 'blob'
                        })
                      ) as Promise<Blob>
                    }
                  >
                    Export CSV
                  </DownloadButton>
                </div>
              </Section>
              {available.length === 0 ? (
                <Empty>No sample recorded yet.</Empty>
              ) : (
                <>
                  <RunPlot
                    run={run.id}
                    runStart={Date.parse(run.created_at) / 1000}
                    metrics={metrics}
                    markers={markers}
                    keys={shown}
                  />
                  <details className="jp-labdeck-keys">
                    <summary>
                      Metrics shown ({shown.length} of {available.length})
                    </summary>
                    <div className="jp-labdeck-columns">
                      {available.map(key => (
                        <Checkbox
                          key={key}
                          label={key}
                          checked={shown.includes(key)}
                          onChange={on =>
                            setKeys(on ? [...shown, key] : shown.filter(k => k !== key))
                          }
                        />
                      ))}
                    </div>
                  </details>
                </>
              )}
            </>
          );
        }}
      </Show>
    </div>
  );
}

function RunPlot(props: {
  run: string;
  runStart: number;
  metrics: Parameters<typeof runFigure>[0];
  markers: Parameters<typeof runFigure>[2];
  keys: string[];
}): JSX.Element {
  const { metrics, markers, keys, runStart } = props;
  const yTitle = keys.every(k => PERCENT.test(k))
    ? 'percent'
    : keys.length === 1
      ? keys[0]
      : 'value';
  const keyList = keys.join('\n');
  const figure = useCallback(
    (theme: ITheme) => runFigure(metrics, keyList.split('\n'), markers, runStart, theme, yTitle),
    [metrics, markers, keyList, runStart, yTitle]
  );
  return <Plot figure={figure} label={`Metrics of run ${props.run}`} height={320} />;
}
