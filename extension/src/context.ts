/**
 * What every view reaches: the API client, JupyterLab's sanitizing
 * renderers, the panel's navigation, the user's panel preferences, and the
 * theme (charts take their colours from it).
 */
import type { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import type { ISignal } from '@lumino/signaling';
import React, { useContext, useEffect, useState } from 'react';

import type { Client } from './api/client';
import type { PanelModel } from './model';
import type { Preferences } from './preferences';

export interface ILabdeck {
  client: Client;
  rendermime: IRenderMimeRegistry;
  model: PanelModel;
  preferences: Preferences;
  /** Emits when JupyterLab's theme changes. */
  themeChanged: ISignal<unknown, unknown> | null;
}

export const LabdeckContext = React.createContext<ILabdeck | null>(null);

export function useLabdeck(): ILabdeck {
  const value = useContext(LabdeckContext);
  if (value === null) {
    throw new Error('labdeck views render inside LabdeckContext');
  }
  return value;
}

/** Re-render whenever `signal` emits; answers a counter that changes then. */
export function useSignal(signal: ISignal<unknown, unknown> | null): number {
  const [count, setCount] = useState(0);
  useEffect(() => {
    if (signal === null) {
      return;
    }
    const bump = () => setCount(c => c + 1);
    signal.connect(bump);
    return () => {
      signal.disconnect(bump);
    };
  }, [signal]);
  return count;
}
