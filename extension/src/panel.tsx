/**
 * The left sidebar panel: a toolbar of labdeck's commands over three tabs,
 * Me, Teams and Runs. Each tab stays mounted once opened, so moving between
 * tabs keeps what the user typed.
 */
import { ReactWidget, SidePanel } from '@jupyterlab/ui-components';
import { Panel } from '@lumino/widgets';
import React, { useRef, useState } from 'react';

import { ErrorBoundary } from './components/boundary';
import { ILabdeck, LabdeckContext, useLabdeck, useSignal } from './context';
import { labdeckIcon } from './icons';
import { Tab, TABS } from './model';
import { MeView } from './views/me/MeView';
import { RunsView } from './views/runs/RunsView';
import { TeamsView } from './views/teams/TeamsView';

export const PANEL_ID = 'labdeck-panel';

export class LabdeckPanel extends SidePanel {
  constructor(labdeck: ILabdeck) {
    // One view, not an accordion of several: a plain panel holds it.
    super({ content: new Panel() });
    this.id = PANEL_ID;
    this.addClass('jp-labdeck-panel');
    this.title.icon = labdeckIcon;
    this.title.caption = 'labdeck';
    this._view = new AppWidget(labdeck);
    this.addWidget(this._view);
  }

  /** Load every view afresh (what the toolbar's refresh does). */
  refresh(): void {
    this._view.generation += 1;
    this._view.update();
  }

  private _view: AppWidget;
}

class AppWidget extends ReactWidget {
  generation = 0;

  constructor(private readonly labdeck: ILabdeck) {
    super();
    this.addClass('jp-labdeck-content');
  }

  protected render(): JSX.Element {
    return (
      <LabdeckContext.Provider value={this.labdeck}>
        <LabdeckApp key={this.generation} />
      </LabdeckContext.Provider>
    );
  }
}

function LabdeckApp(): JSX.Element {
  const { model } = useLabdeck();
  useSignal(model.changed);
  const [visited, setVisited] = useState<Set<Tab>>(() => new Set([model.tab]));
  if (!visited.has(model.tab)) {
    setVisited(new Set([...visited, model.tab]));
  }
  const tabs = useRef<Array<HTMLButtonElement | null>>([]);
  const onKey = (event: React.KeyboardEvent, index: number) => {
    const moves: Record<string, number> = {
      ArrowRight: 1,
      ArrowLeft: -1,
      Home: -index,
      End: TABS.length - 1 - index
    };
    if (event.key in moves) {
      event.preventDefault();
      const next = (index + moves[event.key] + TABS.length) % TABS.length;
      model.showTab(TABS[next].id);
      tabs.current[next]?.focus();
    }
  };
  return (
    <div className="jp-labdeck-app">
      <div className="jp-labdeck-tabs" role="tablist" aria-label="labdeck">
        {TABS.map((tab, i) => (
          <button
            key={tab.id}
            id={`jp-labdeck-tab-${tab.id}`}
            ref={el => (tabs.current[i] = el)}
            role="tab"
            type="button"
            className="jp-labdeck-tab"
            aria-selected={model.tab === tab.id}
            aria-controls={`jp-labdeck-tabpanel-${tab.id}`}
            tabIndex={model.tab === tab.id ? 0 : -1}
            onClick={() => model.showTab(tab.id)}
            onKeyDown={e => onKey(e, i)}
          >
            {tab.label}
          </button>
        ))}
      </div>
      {TABS.map(tab => (
        <div
          key={tab.id}
          id={`jp-labdeck-tabpanel-${tab.id}`}
          role="tabpanel"
          aria-labelledby={`jp-labdeck-tab-${tab.id}`}
          className="jp-labdeck-tabpanel"
          hidden={model.tab !== tab.id}
        >
          <ErrorBoundary>
            {visited.has(tab.id) && tab.id === 'me' && <MeView />}
            {visited.has(tab.id) && tab.id === 'teams' && <TeamsView />}
            {visited.has(tab.id) && tab.id === 'runs' && <RunsView />}
          </ErrorBoundary>
        </div>
      ))}
    </div>
  );
}
