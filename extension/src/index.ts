/**
 * labdeck's JupyterLab extension: the sidebar panel (F-UI-3), the status bar
 * item and the commands (F-UI-8), over the REST API of the labdeck server
 * extension. Every rule stays on the server; this only shows and asks.
 */
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { CommandToolbarButton, ICommandPalette, IThemeManager } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStateDB } from '@jupyterlab/statedb';
import { IStatusBar } from '@jupyterlab/statusbar';

import { jupyterClient } from './api/jupyter';
import { addCommands, CommandIds } from './commands';
import { PanelModel } from './model';
import { LabdeckPanel, PANEL_ID } from './panel';
import { Preferences } from './preferences';
import { KernelRunModel } from './status';
import { LabdeckStatus } from './statusbar';

const PLUGIN_ID = 'labdeck:plugin';
/** Set once the panel was shown on a workspace's first start. */
const SHOWN_KEY = 'labdeck:panel-shown';

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'The labdeck sidebar panel, status bar item and commands.',
  autoStart: true,
  requires: [IRenderMimeRegistry],
  optional: [
    ICommandPalette,
    ILayoutRestorer,
    IStatusBar,
    INotebookTracker,
    ISettingRegistry,
    IThemeManager,
    IStateDB
  ],
  activate: (
    app: JupyterFrontEnd,
    rendermime: IRenderMimeRegistry,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    statusBar: IStatusBar | null,
    tracker: INotebookTracker | null,
    settingRegistry: ISettingRegistry | null,
    themes: IThemeManager | null,
    state: IStateDB | null
  ) => {
    const client = jupyterClient();
    const model = new PanelModel();
    const preferences = new Preferences();
    if (settingRegistry) {
      settingRegistry
        .load(PLUGIN_ID)
        .then(settings => preferences.track(settings))
        .catch(reason => console.warn('labdeck: settings not loaded', reason));
    }
    const panel = new LabdeckPanel({
      client,
      rendermime,
      model,
      preferences,
      themeChanged: themes?.themeChanged ?? null
    });

    let status: KernelRunModel | null = null;
    if (tracker) {
      status = new KernelRunModel(client, preferences);
      status.track(tracker);
      preferences.changed.connect(() => status?.refreshSoon());
    }
    addCommands({ app, panel, model, preferences, tracker, status });

    for (const id of [
      CommandIds.refresh,
      CommandIds.openSettings,
      CommandIds.start,
      CommandIds.stop
    ]) {
      panel.toolbar.addItem(
        id,
        new CommandToolbarButton({ commands: app.commands, id, label: toolbarLabel(id) })
      );
    }
    app.shell.add(panel, 'left', { rank: 450 });
    restorer?.add(panel, PANEL_ID);

    if (palette) {
      for (const command of [
        CommandIds.openPanel,
        CommandIds.openSettings,
        CommandIds.start,
        CommandIds.stop,
        CommandIds.refresh
      ]) {
        palette.addItem({ command, category: 'labdeck' });
      }
    }

    if (statusBar && status) {
      const item = new LabdeckStatus(status, runId =>
        app.commands.execute(CommandIds.openRun, { runId })
      );
      statusBar.registerStatusItem('labdeck:status', {
        item,
        align: 'left',
        rank: 5,
        isActive: () => status?.current !== null,
        activeStateChanged: status.changed
      });
    }

    // A workspace's first start shows the panel (the README's run command
    // opens JupyterLab on it); afterwards the saved layout decides.
    if (state) {
      void app.restored
        .then(() => state.fetch(SHOWN_KEY))
        .then(async shown => {
          if (!shown) {
            // Show it, but leave the focus (and so the target of notebook
            // commands) where the user has it.
            const focused = app.shell.currentWidget;
            app.shell.activateById(panel.id);
            if (focused && focused !== panel) {
              app.shell.activateById(focused.id);
            }
            await state.save(SHOWN_KEY, true);
          }
        });
    }
  }
};

function toolbarLabel(id: string): string {
  switch (id) {
    case CommandIds.openSettings:
      return 'My settings';
    case CommandIds.start:
      return 'Start';
    case CommandIds.stop:
      return 'Stop';
    default:
      return '';
  }
}

export default plugin;
