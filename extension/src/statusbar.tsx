/**
 * The status bar item: while the current notebook's kernel is monitored,
 * the run's name and state and its latest CPU / memory / GPU figures; a
 * click opens the run in the panel (F-UI-8).
 */
import { ReactWidget } from '@jupyterlab/ui-components';
import React from 'react';

import { formatPercent } from './format';
import { labdeckIcon } from './icons';
import { statusFigures } from './figures';
import { KernelRunModel } from './status';

export class LabdeckStatus extends ReactWidget {
  constructor(
    private readonly status: KernelRunModel,
    private readonly onOpen: (runId: string) => void
  ) {
    super();
    this.addClass('jp-labdeck-status');
    status.changed.connect(() => this.update());
  }

  protected render(): JSX.Element | null {
    const current = this.status.current;
    if (current === null || current.run === null) {
      return null;
    }
    const { run, latest } = current;
    const figures = statusFigures(latest);
    const parts = [
      `CPU ${formatPercent(figures.cpu)}`,
      `Mem ${figures.memory ?? '–'}`,
      ...(figures.gpu === undefined ? [] : [`GPU ${formatPercent(figures.gpu)}`])
    ];
    return (
      <button
        type="button"
        className="jp-labdeck-status-button"
        title={`labdeck run ${run.name} (${run.entity}/${run.project}): open it in the labdeck panel`}
        onClick={() => this.onOpen(run.id)}
      >
        <labdeckIcon.react tag="span" className="jp-labdeck-status-icon" />
        <span className="jp-labdeck-status-run">{run.name}</span>
        <span className={`jp-labdeck-status-state jp-mod-${run.state}`}>{run.state}</span>
        <span className="jp-labdeck-status-figures" data-figures>
          {parts.join(' · ')}
        </span>
      </button>
    );
  }
}
