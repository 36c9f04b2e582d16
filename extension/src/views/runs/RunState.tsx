/** A run's state as a coloured badge (text first: colour is never the only cue). */
import React from 'react';

export function RunState(props: { state: string }): JSX.Element {
  return (
    <span className={`jp-labdeck-badge jp-labdeck-state jp-mod-${props.state}`}>{props.state}</span>
  );
}
