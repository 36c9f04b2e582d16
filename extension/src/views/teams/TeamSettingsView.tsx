/** Team › Settings (team admins): privacy, team alerts, storage connector (F-TS-1, -2, -4, -6). */
import React, { useState } from 'react';

import { TeamSettings, unwrap } from '../../api/client';
import { IAction, useAction, useResource } from '../../components/hooks';
import { ActionButton, Checkbox, Field, Section, Show } from '../../components/ui';
import { useLabdeck } from '../../context';
import { AlertMatrix, Matrix } from '../AlertMatrix';
import type { ITeamProps } from './TeamView';

type Patch = {
  force_private?: boolean;
  code_saving_default?: boolean;
  alerts?: { events?: Matrix; email?: string; slack_webhook_url?: string };
  storage_url?: string;
};

export function TeamSettingsView(props: ITeamProps): JSX.Element {
  const { client } = useLabdeck();
  const { team } = props;
  const settings = useResource(
    () => unwrap(client.GET('/labdeck/api/teams/{team}/settings', { params: { path: { team } } })),
    [client, team]
  );
  const save = (action: IAction, body: Patch) =>
    action.run(async () => {
      settings.set(
        await unwrap(
          client.PATCH('/labdeck/api/teams/{team}/settings', {
            params: { path: { team } },
            body
          })
        )
      );
    });
  const readOnly = !props.may('manage team settings');
  return (
    <Show resource={settings} what="the team's settings">
      {data => (
        <>
          <PrivacyForm settings={data} save={save} readOnly={readOnly} />
          <TeamAlertsForm settings={data} save={save} readOnly={readOnly} />
          <StorageConnectorForm settings={data} save={save} readOnly={readOnly} />
        </>
      )}
    </Show>
  );
}

interface IFormProps {
  settings: TeamSettings;
  save: (action: IAction, body: Patch) => Promise<boolean>;
  readOnly: boolean;
}

function Saved(props: { when: boolean }): JSX.Element | null {
  return props.when ? (
    <span className="jp-labdeck-ok" role="status">
      Saved
    </span>
  ) : null;
}

function PrivacyForm(props: IFormProps): JSX.Element {
  const [forcePrivate, setForcePrivate] = useState(props.settings.force_private);
  const [codeSaving, setCodeSaving] = useState(props.settings.code_saving_default);
  const [saved, setSaved] = useState(false);
  const action = useAction();
  return (
    <Section title="Privacy">
      <form
        className="jp-labdeck-form"
        aria-label="Team privacy"
        onSubmit={e => {
          e.preventDefault();
          void props
            .save(action, { force_private: forcePrivate, code_saving_default: codeSaving })
            .then(setSaved);
        }}
      >
        <Checkbox
          label="Make every project of the team private"
          description="existing ones become private; new ones cannot be made otherwise"
          checked={forcePrivate}
          disabled={props.readOnly}
          onChange={v => (setForcePrivate(v), setSaved(false))}
        />
        <Checkbox
          label="Save code by default for new runs"
          checked={codeSaving}
          disabled={props.readOnly}
          onChange={v => (setCodeSaving(v), setSaved(false))}
        />
        {!props.readOnly && (
          <div className="jp-labdeck-row">
            <ActionButton type="submit" action={action} onClick={() => undefined}>
              Save privacy
            </ActionButton>
            <Saved when={saved} />
          </div>
        )}
      </form>
    </Section>
  );
}

function TeamAlertsForm(props: IFormProps): JSX.Element {
  const alerts = props.settings.alerts;
  const [events, setEvents] = useState<Matrix>(alerts.events);
  const [email, setEmail] = useState(alerts.email);
  const [webhook, setWebhook] = useState(alerts.slack_webhook_url);
  const [saved, setSaved] = useState(false);
  const action = useAction();
  const touched = () => setSaved(false);
  return (
    <Section title="Team alerts">
      <form
        className="jp-labdeck-form"
        aria-label="Team alerts"
        onSubmit={e => {
          e.preventDefault();
          void props
            .save(action, { alerts: { events, email, slack_webhook_url: webhook } })
            .then(setSaved);
        }}
      >
        <AlertMatrix
          label="Team alerts"
          value={events}
          disabled={props.readOnly}
          onChange={v => (setEvents(v), touched())}
        />
        <Field
          label="Alert email"
          name="alerts.email"
          type="email"
          value={email}
          disabled={props.readOnly}
          error={action.error}
          onChange={v => (setEmail(v), touched())}
        />
        <Field
          label="Slack webhook URL"
          name="alerts.slack_webhook_url"
          value={webhook}
          disabled={props.readOnly}
          placeholder="https://hooks.slack.com/services/…"
          error={action.error}
          onChange={v => (setWebhook(v), touched())}
        />
        {!props.readOnly && (
          <div className="jp-labdeck-row">
            <ActionButton quiet type="submit" action={action} onClick={() => undefined}>
              Save team alerts
            </ActionButton>
            <Saved when={saved} />
          </div>
        )}
      </form>
    </Section>
  );
}

function StorageConnectorForm(props: IFormProps): JSX.Element {
  const [url, setUrl] = useState(props.settings.storage_url);
  const [saved, setSaved] = useState(false);
  const action = useAction();
  return (
    <Section title="Storage connector">
      <p className="jp-labdeck-hint">
        Where the team's artifacts and run files are stored: an fsspec URL (file://, s3://, gs://,
        az://…). Empty uses the server's default store. labdeck checks that it can write there
        before saving.
      </p>
      <form
        className="jp-labdeck-form jp-labdeck-inline-form"
        aria-label="Storage connector"
        onSubmit={e => {
          e.preventDefault();
          void props.save(action, { storage_url: url }).then(setSaved);
        }}
      >
        <Field
          label="Storage URL"
          name="storage_url"
          value={url}
          disabled={props.readOnly}
          placeholder="server default"
          error={action.error}
          onChange={v => (setUrl(v), setSaved(false))}
        />
        {!props.readOnly && (
          <ActionButton quiet type="submit" action={action} onClick={() => undefined}>
            Save storage
          </ActionButton>
        )}
        <Saved when={saved} />
      </form>
    </Section>
  );
}
