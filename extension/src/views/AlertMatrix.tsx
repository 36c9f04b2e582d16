/**
 * Event × channel switches, shared by my alert settings and a team's: the
 * server lists the events and channels, the view only lays them out.
 */
import React from 'react';

import { channelLabel, eventLabel } from './me/labels';

export type Matrix = Record<string, Record<string, boolean>>;

export function AlertMatrix(props: {
  value: Matrix;
  onChange: (value: Matrix) => void;
  disabled?: boolean;
  label: string;
}): JSX.Element {
  const events = Object.keys(props.value);
  const channels = Array.from(new Set(events.flatMap(e => Object.keys(props.value[e]))));
  return (
    <table className="jp-labdeck-table jp-labdeck-matrix" aria-label={props.label}>
      <thead>
        <tr>
          <th scope="col">Event</th>
          {channels.map(c => (
            <th scope="col" key={c}>
              {channelLabel(c)}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {events.map(event => (
          <tr key={event}>
            <th scope="row">{eventLabel(event)}</th>
            {channels.map(channel => (
              <td key={channel}>
                <input
                  type="checkbox"
                  aria-label={`${eventLabel(event)} by ${channelLabel(channel)}`}
                  checked={Boolean(props.value[event]?.[channel])}
                  disabled={props.disabled || !(channel in props.value[event])}
                  onChange={e =>
                    props.onChange({
                      ...props.value,
                      [event]: { ...props.value[event], [channel]: e.target.checked }
                    })
                  }
                />
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
