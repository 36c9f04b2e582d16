/**
 * The panel's own preferences (schema/plugin.json, editable in the Settings
 * Editor): how often it refreshes, and the project the Runs tab opens on.
 */
import type { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ISignal, Signal } from '@lumino/signaling';

export const DEFAULT_REFRESH_SECONDS = 10;

export class Preferences {
  private _refresh = DEFAULT_REFRESH_SECONDS;
  private _project = '';
  private _changed = new Signal<this, void>(this);

  get changed(): ISignal<this, void> {
    return this._changed;
  }
  /** Seconds between refreshes of live views (never below 1). */
  get refreshSeconds(): number {
    return this._refresh;
  }
  /** `entity/project` to open the Runs tab on, or '' for the first one. */
  get defaultProject(): string {
    return this._project;
  }

  /** Follow the setting registry's values (and their later changes). */
  track(settings: ISettingRegistry.ISettings): void {
    const read = () => {
      const refresh = Number(settings.get('refreshInterval').composite);
      this._refresh = Number.isFinite(refresh) && refresh >= 1 ? refresh : DEFAULT_REFRESH_SECONDS;
      const project = settings.get('defaultProject').composite;
      this._project = typeof project === 'string' ? project.trim() : '';
      this._changed.emit();
    };
    read();
    settings.changed.connect(read);
  }
}

/** How often a running run's views refresh: never faster than it samples. */
export function refreshSeconds(preferred: number, system: unknown): number {
  const interval =
    system !== null && typeof system === 'object'
      ? Number((system as { interval?: unknown }).interval)
      : NaN;
  return Math.max(preferred, Number.isFinite(interval) ? interval : 0);
}
