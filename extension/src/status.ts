/**
 * Which run the current notebook's kernel records, and its newest figures.
 *
 * The server answers both in one read (`/me/kernels/{kernel_id}/run`). The
 * model asks when the current notebook or its kernel changes, shortly after
 * a cell finishes (that is when `%labdeck start` or `stop` ran), and then on
 * a timer that never runs faster than the run samples.
 */
import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { NotebookActions } from '@jupyterlab/notebook';
import { ISignal, Signal } from '@lumino/signaling';

import { KernelRun, unwrap } from './api/client';
import type { Client } from './api/client';
import { type Preferences, refreshSeconds } from './preferences';

const AFTER_CELL_MS = 700;

export class KernelRunModel {
  constructor(
    private readonly client: Client,
    private readonly preferences: Preferences
  ) {}

  get changed(): ISignal<this, void> {
    return this._changed;
  }
  /** The run and its latest values, while the current kernel records one. */
  get current(): KernelRun | null {
    return this._current;
  }
  get kernelId(): string | null {
    return this._kernelId;
  }

  /** Follow the current notebook of `tracker` and its kernel. */
  track(tracker: INotebookTracker): void {
    const follow = (panel: NotebookPanel | null) => {
      this._panel?.sessionContext.kernelChanged.disconnect(this._onKernel, this);
      this._panel = panel;
      panel?.sessionContext.kernelChanged.connect(this._onKernel, this);
      this._onKernel();
    };
    tracker.currentChanged.connect((_, panel) => follow(panel));
    NotebookActions.executed.connect((_, { notebook }) => {
      if (this._panel !== null && this._panel.content === notebook) {
        this.refreshSoon();
      }
    });
    follow(tracker.currentWidget);
  }

  /** Ask again in a moment (after a command ran `%labdeck start|stop`). */
  refreshSoon(): void {
    this._schedule(AFTER_CELL_MS);
  }

  dispose(): void {
    window.clearTimeout(this._timer);
  }

  private _onKernel(): void {
    const id = this._panel?.sessionContext.session?.kernel?.id ?? null;
    if (id !== this._kernelId) {
      this._kernelId = id;
      this._set(null);
    }
    this._schedule(0);
  }

  private _schedule(ms: number): void {
    window.clearTimeout(this._timer);
    if (this._kernelId !== null) {
      this._timer = window.setTimeout(() => void this._refresh(), ms);
    }
  }

  private async _refresh(): Promise<void> {
    const kernelId = this._kernelId;
    if (kernelId === null) {
      return;
    }
    let next = this.preferences.refreshSeconds;
    if (!document.hidden) {
      try {
        const answer = await unwrap(
          this.client.GET('/labdeck/api/me/kernels/{kernel_id}/run', {
            params: { path: { kernel_id: kernelId } }
          })
        );
        if (kernelId === this._kernelId) {
          this._set(answer.run ? answer : null);
          next = refreshSeconds(this.preferences.refreshSeconds, answer.run?.system);
        }
      } catch {
        // A busy server (503) or a lost connection: keep the last figures, ask later.
      }
    }
    if (kernelId === this._kernelId) {
      this._schedule(next * 1000);
    }
  }

  private _set(value: KernelRun | null): void {
    const was = JSON.stringify(this._current);
    this._current = value;
    if (JSON.stringify(value) !== was) {
      this._changed.emit();
    }
  }

  private _panel: NotebookPanel | null = null;
  private _kernelId: string | null = null;
  private _current: KernelRun | null = null;
  private _timer = 0;
  private _changed = new Signal<this, void>(this);
}
