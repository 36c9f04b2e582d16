/**
 * The Runs tab: pick an entity (me or a team) and one of its projects; its
 * runs with state and duration, newest first; open one, or tick two or more
 * and compare them (F-UI-3, F-SM-7).
 */
import { Button } from '@jupyterlab/ui-components';
import React, { useEffect, useMemo, useState } from 'react';

import { Run, unwrap } from '../../api/client';
import { useAction, useInterval, useNow, useResource } from '../../components/hooks';
import { ActionButton, Empty, Section, Select, Show } from '../../components/ui';
import { useLabdeck, useSignal } from '../../context';
import { formatDateTime, formatDuration, runSeconds } from '../../format';
import { OverlayView } from './OverlayView';
import { RunChartView } from './RunChartView';
import { RunState } from './RunState';

const PAGE = 50;

export function RunsView(): JSX.Element {
  const { model } = useLabdeck();
  useSignal(model.changed);
  if (model.run !== null) {
    return <RunChartView key={model.run} runId={model.run} onBack={() => model.openRun(null)} />;
  }
  if (model.compare.length >= 2) {
    return <OverlayView runIds={model.compare} onBack={() => model.compareRuns([])} />;
  }
  return <RunList />;
}

function RunList(): JSX.Element {
  const { client, preferences, model } = useLabdeck();
  useSignal(preferences.changed);
  const entities = useResource(async () => {
    const [me, teams] = await Promise.all([
      unwrap(client.GET('/labdeck/api/me')),
      unwrap(client.GET('/labdeck/api/teams'))
    ]);
    return [me.username, ...teams.map(t => t.name)];
  }, [client]);
  // Back from a run, its project; else the preference's; else the first.
  const preferred = model.project ?? preferences.defaultProject;
  const [preferredEntity, preferredProject] = preferred.includes('/')
    ? preferred.split('/', 2)
    : ['', ''];
  const [entity, setEntity] = useState<string>('');
  const [project, setProject] = useState<string>('');

  useEffect(() => {
    if (entities.loaded.state === 'ready' && entity === '') {
      const list = entities.loaded.data;
      setEntity(list.includes(preferredEntity) ? preferredEntity : list[0]);
    }
  }, [entities.loaded, entity, preferredEntity]);

  const projects = useResource(
    () =>
      entity
        ? unwrap(client.GET('/labdeck/api/projects/{entity}', { params: { path: { entity } } }))
        : Promise.resolve([]),
    [client, entity]
  );
  useEffect(() => {
    if (projects.loaded.state === 'ready') {
      const names = projects.loaded.data.map(p => p.name);
      if (!names.includes(project)) {
        setProject(
          entity === preferredEntity && names.includes(preferredProject)
            ? preferredProject
            : (names[0] ?? '')
        );
      }
    }
  }, [projects.loaded, project, entity, preferredEntity, preferredProject]);

  return (
    <div className="jp-labdeck-view" data-view="runs">
      <Section title="Runs">
        <Show resource={entities} what="your teams">
          {list => (
            <div className="jp-labdeck-row jp-labdeck-pickers">
              <Select
                label="Owner"
                value={entity}
                options={list.map(e => ({ value: e, label: e }))}
                onChange={v => {
                  setEntity(v);
                  setProject('');
                }}
              />
              {projects.loaded.state === 'ready' && projects.loaded.data.length > 0 && (
                <Select
                  label="Project"
                  value={project}
                  options={projects.loaded.data.map(p => ({ value: p.name, label: p.name }))}
                  onChange={setProject}
                />
              )}
            </div>
          )}
        </Show>
        {entity && (
          <Show resource={projects} what="projects">
            {list =>
              list.length === 0 ? (
                <Empty>
                  {entity} has no project yet. Start monitoring a notebook (labdeck: Start
                  monitoring this kernel) to record a run.
                </Empty>
              ) : project ? (
                <RunTable key={`${entity}/${project}`} entity={entity} project={project} />
              ) : null
            }
          </Show>
        )}
      </Section>
    </div>
  );
}

function RunTable(props: { entity: string; project: string }): JSX.Element {
  const { client, model, preferences } = useLabdeck();
  const { entity, project } = props;
  const [more, setMore] = useState<Run[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [picked, setPicked] = useState<string[]>([]);
  const paging = useAction();
  const path = { entity, project };
  const first = useResource(async () => {
    const page = await unwrap(
      client.GET('/labdeck/api/projects/{entity}/{project}/runs', {
        params: { path, query: { limit: PAGE } }
      })
    );
    setMore([]);
    setCursor(page.next_cursor);
    return page;
  }, [client, entity, project]);
  const runs = useMemo(
    () => (first.loaded.state === 'ready' ? [...first.loaded.data.items, ...more] : []),
    [first.loaded, more]
  );
  const anyRunning = runs.some(r => r.state === 'running');
  useInterval(first.reload, preferences.refreshSeconds, anyRunning);
  const now = useNow(1, anyRunning);

  return (
    <Show resource={first} what="runs">
      {() =>
        runs.length === 0 ? (
          <Empty>
            No run in {entity}/{project} yet.
          </Empty>
        ) : (
          <>
            <div className="jp-labdeck-table-wrap">
              <table
                className="jp-labdeck-table jp-labdeck-runs"
                aria-label={`Runs of ${entity}/${project}`}
              >
                <thead>
                  <tr>
                    <th scope="col">
                      <span className="jp-labdeck-visually-hidden">Compare</span>
                    </th>
                    <th scope="col">Run</th>
                    <th scope="col">State</th>
                    <th scope="col">Started</th>
                    <th scope="col">Duration</th>
                    <th scope="col">By</th>
                  </tr>
                </thead>
                <tbody>
                  {runs.map(run => (
                    <tr key={run.id} data-run={run.id}>
                      <td>
                        <input
                          type="checkbox"
                          aria-label={`Compare ${run.name}`}
                          checked={picked.includes(run.id)}
                          onChange={e =>
                            setPicked(p =>
                              e.target.checked ? [...p, run.id] : p.filter(id => id !== run.id)
                            )
                          }
                        />
                      </td>
                      <td>
                        <Button
                          minimal
                          small
                          className="jp-labdeck-link"
                          aria-label={`Open run ${run.name}`}
                          onClick={() => model.openRun(run.id)}
                        >
                          {run.name}
                        </Button>
                      </td>
                      <td>
                        <RunState state={run.state} />
                      </td>
                      <td>{formatDateTime(run.created_at)}</td>
                      <td>{formatDuration(runSeconds(run.created_at, run.ended_at, now))}</td>
                      <td>{run.created_by ?? 'deleted user'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <div className="jp-labdeck-row">
              <Button
                small
                className="jp-labdeck-primary"
                disabled={picked.length < 2}
                onClick={() => model.compareRuns(picked)}
              >
                Compare {picked.length >= 2 ? picked.length : ''} runs
              </Button>
              {cursor !== null && (
                <ActionButton
                  small
                  secondary
                  action={paging}
                  onClick={() =>
                    void paging.run(async () => {
                      const page = await unwrap(
                        client.GET('/labdeck/api/projects/{entity}/{project}/runs', {
                          params: { path, query: { limit: PAGE, cursor } }
                        })
                      );
                      setMore(m => [...m, ...page.items]);
                      setCursor(page.next_cursor);
                    })
                  }
                >
                  More runs
                </ActionButton>
              )}
            </div>
          </>
        )
      }
    </Show>
  );
}
