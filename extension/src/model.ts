/**
 * Where the panel is: its tab, the team or run open in it, the runs being
 * compared. Commands and the status bar move it (open my settings, open
 * this run); the views follow.
 */
import { ISignal, Signal } from '@lumino/signaling';

export type Tab = 'me' | 'teams' | 'runs';
export const TABS: ReadonlyArray<{ id: Tab; label: string }> = [
  { id: 'me', label: 'Me' },
  { id: 'teams', label: 'Teams' },
  { id: 'runs', label: 'Runs' }
];

export class PanelModel {
  private _tab: Tab = 'me';
  private _team: string | null = null;
  private _run: string | null = null;
  private _compare: string[] = [];
  private _project: string | null = null;
  private _changed = new Signal<this, void>(this);

  get changed(): ISignal<this, void> {
    return this._changed;
  }
  get tab(): Tab {
    return this._tab;
  }
  get team(): string | null {
    return this._team;
  }
  get run(): string | null {
    return this._run;
  }
  get compare(): readonly string[] {
    return this._compare;
  }
  /** `ENTITY/PROJECT` of the run last opened: the run list goes back there. */
  get project(): string | null {
    return this._project;
  }

  /** The open run's project, once known (no signal: the list reads it when shown). */
  rememberProject(entity: string, project: string): void {
    this._project = `${entity}/${project}`;
  }

  showTab(tab: Tab): void {
    this._tab = tab;
    this._changed.emit();
  }

  openTeam(team: string | null): void {
    this._tab = 'teams';
    this._team = team;
    this._changed.emit();
  }

  openRun(run: string | null): void {
    this._tab = 'runs';
    this._run = run;
    this._compare = [];
    this._changed.emit();
  }

  compareRuns(runs: string[]): void {
    this._tab = 'runs';
    this._run = null;
    this._compare = [...runs];
    this._changed.emit();
  }
}
