/**
 * The two patterns every view uses: load something (loading / error /
 * ready), and run an action from a control (busy, and the server's refusal
 * kept for that control until the next try).
 */
import { useCallback, useEffect, useRef, useState } from 'react';

export type Loaded<T> =
  { state: 'loading' } | { state: 'error'; error: unknown } | { state: 'ready'; data: T };

export interface IResource<T> {
  loaded: Loaded<T>;
  /** Load again (after a change); the current data stays shown meanwhile. */
  reload: () => void;
  /** Replace the data with what a write answered, without a round trip. */
  set: (data: T) => void;
}

export function useResource<T>(load: () => Promise<T>, deps: unknown[]): IResource<T> {
  const [loaded, setLoaded] = useState<Loaded<T>>({ state: 'loading' });
  const [generation, setGeneration] = useState(0);
  const latest = useRef(load);
  latest.current = load;
  useEffect(() => {
    let live = true;
    latest.current().then(
      data => live && setLoaded({ state: 'ready', data }),
      error => live && setLoaded({ state: 'error', error })
    );
    return () => {
      live = false;
    };
  }, [...deps, generation]);
  const reload = useCallback(() => setGeneration(g => g + 1), []);
  const set = useCallback((data: T) => setLoaded({ state: 'ready', data }), []);
  return { loaded, reload, set };
}

export interface IAction {
  busy: boolean;
  error: unknown;
  /** Run `work`; its error is kept to show next to the control. Resolves
   * true when it succeeded, so the caller may then clear its inputs. */
  run: (work: () => Promise<unknown>) => Promise<boolean>;
  clear: () => void;
}

export function useAction(): IAction {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const mounted = useRef(true);
  useEffect(
    () => () => {
      mounted.current = false;
    },
    []
  );
  const run = useCallback(async (work: () => Promise<unknown>) => {
    setBusy(true);
    setError(undefined);
    try {
      await work();
      return true;
    } catch (err) {
      if (mounted.current) {
        setError(err);
      }
      return false;
    } finally {
      if (mounted.current) {
        setBusy(false);
      }
    }
  }, []);
  const clear = useCallback(() => setError(undefined), []);
  return { busy, error, run, clear };
}

/** Call `tick` every `seconds` while `active`; the latest `tick` is used. */
export function useInterval(tick: () => void, seconds: number, active: boolean): void {
  const latest = useRef(tick);
  latest.current = tick;
  useEffect(() => {
    if (!active || !(seconds > 0)) {
      return;
    }
    const id = window.setInterval(() => latest.current(), seconds * 1000);
    return () => window.clearInterval(id);
  }, [seconds, active]);
}

/** The current time, refreshed every `seconds` while `active` (live durations). */
export function useNow(seconds: number, active: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useInterval(() => setNow(Date.now()), seconds, active);
  return now;
}
