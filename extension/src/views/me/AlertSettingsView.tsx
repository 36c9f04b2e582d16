/** Me › Alerts: event × channel on/off and the Slack webhook (F-US-4). */
import React, { useState } from 'react';

import { AlertSettings, unwrap } from '../../api/client';
import { useAction, useResource } from '../../components/hooks';
import { ActionButton, Field, Section, Show } from '../../components/ui';
import { useLabdeck } from '../../context';
import { AlertMatrix, Matrix } from '../AlertMatrix';

export function AlertSettingsView(): JSX.Element {
  const { client } = useLabdeck();
  const alerts = useResource(() => unwrap(client.GET('/labdeck/api/me/alerts')), [client]);
  return (
    <Section title="Alerts">
      <Show resource={alerts} what="your alert settings">
        {data => <AlertForm settings={data} onSaved={alerts.set} />}
      </Show>
    </Section>
  );
}

function AlertForm(props: {
  settings: AlertSettings;
  onSaved: (s: AlertSettings) => void;
}): JSX.Element {
  const { client } = useLabdeck();
  const [events, setEvents] = useState<Matrix>(props.settings.events);
  const [webhook, setWebhook] = useState(props.settings.slack_webhook_url);
  const [saved, setSaved] = useState(false);
  const save = useAction();
  return (
    <form
      className="jp-labdeck-form"
      aria-label="Alert settings"
      onSubmit={e => {
        e.preventDefault();
        setSaved(false);
        void save.run(async () => {
          const body = { events, slack_webhook_url: webhook };
          props.onSaved(await unwrap(client.PUT('/labdeck/api/me/alerts', { body })));
          setSaved(true);
        });
      }}
    >
      <AlertMatrix
        label="My alerts"
        value={events}
        onChange={v => (setEvents(v), setSaved(false))}
      />
      <Field
        label="Slack webhook URL"
        name="slack_webhook_url"
        value={webhook}
        placeholder="https://hooks.slack.com/services/…"
        error={save.error}
        onChange={v => (setWebhook(v), setSaved(false))}
      />
      <div className="jp-labdeck-row">
        <ActionButton quiet type="submit" action={save} onClick={() => undefined}>
          Save alerts
        </ActionButton>
        {saved && (
          <span className="jp-labdeck-ok" role="status">
            Saved
          </span>
        )}
      </div>
    </form>
  );
}
