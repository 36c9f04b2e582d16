/**
 * labdeck's commands (palette and panel toolbar): open the panel, open my
 * settings, start and stop monitoring the current notebook's kernel. Start
 * and stop run the `%labdeck` magic in that kernel, exactly what a user
 * would type in a cell, so the kernel side has one code path.
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import { Notification } from '@jupyterlab/apputils';
import type { INotebookTracker } from '@jupyterlab/notebook';
import type { KernelMessage } from '@jupyterlab/services';
import { refreshIcon } from '@jupyterlab/ui-components';

import { labdeckIcon } from './icons';
import { startCode, STOP_CODE } from './magic';
import type { PanelModel } from './model';
import type { LabdeckPanel } from './panel';
import type { Preferences } from './preferences';
import type { KernelRunModel } from './status';

export const CommandIds = {
  openPanel: 'labdeck:open-panel',
  openSettings: 'labdeck:open-settings',
  openRun: 'labdeck:open-run',
  start: 'labdeck:start-monitoring',
  stop: 'labdeck:stop-monitoring',
  refresh: 'labdeck:refresh'
} as const;

interface IDeps {
  app: JupyterFrontEnd;
  panel: LabdeckPanel;
  model: PanelModel;
  preferences: Preferences;
  tracker: INotebookTracker | null;
  status: KernelRunModel | null;
}

export function addCommands(deps: IDeps): void {
  const { app, panel, model, preferences, tracker, status } = deps;
  const { commands } = app;
  const show = () => app.shell.activateById(panel.id);
  const kernel = () => tracker?.currentWidget?.sessionContext.session?.kernel ?? null;

  const runInKernel = async (code: string, doing: string) => {
    const notebook = tracker?.currentWidget ?? null;
    await notebook?.sessionContext.ready;
    const current = kernel();
    if (current === null) {
      Notification.warning('labdeck: open a notebook with a running kernel first.');
      return;
    }
    const future = current.requestExecute({
      code,
      silent: false,
      store_history: false,
      allow_stdin: false
    });
    const reply = (await future.done) as KernelMessage.IExecuteReplyMsg;
    const content = reply.content;
    if (content.status === 'error') {
      Notification.error(`labdeck could not ${doing}: ${content.ename}: ${content.evalue}`, {
        autoClose: 8000
      });
    }
    status?.refreshSoon();
  };

  commands.addCommand(CommandIds.openPanel, {
    label: 'labdeck: Open panel',
    caption: 'Show the labdeck panel',
    icon: labdeckIcon,
    execute: show
  });
  commands.addCommand(CommandIds.openSettings, {
    label: 'labdeck: Open my settings',
    caption: 'My profile, emails, API keys, alerts and account',
    execute: () => {
      model.showTab('me');
      show();
    }
  });
  commands.addCommand(CommandIds.openRun, {
    label: 'labdeck: Open run',
    execute: args => {
      model.openRun(typeof args.runId === 'string' ? args.runId : null);
      show();
    }
  });
  commands.addCommand(CommandIds.start, {
    label: 'labdeck: Start monitoring this kernel',
    caption: 'Run %labdeck start in the current notebook’s kernel',
    isEnabled: () => tracker?.currentWidget != null,
    execute: () => runInKernel(startCode(preferences.defaultProject), 'start monitoring')
  });
  commands.addCommand(CommandIds.stop, {
    label: 'labdeck: Stop monitoring this kernel',
    caption: 'Run %labdeck stop in the current notebook’s kernel',
    isEnabled: () => tracker?.currentWidget != null,
    execute: () => runInKernel(STOP_CODE, 'stop monitoring')
  });
  commands.addCommand(CommandIds.refresh, {
    label: 'labdeck: Refresh panel',
    caption: 'Load the labdeck panel afresh',
    icon: refreshIcon,
    execute: () => panel.refresh()
  });

  // The notebook in front changed: start/stop may have become (un)available.
  tracker?.currentChanged.connect(() => {
    commands.notifyCommandChanged(CommandIds.start);
    commands.notifyCommandChanged(CommandIds.stop);
  });
}
