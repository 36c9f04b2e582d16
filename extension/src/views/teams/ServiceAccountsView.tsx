/** Team › Service accounts: list, create (its API key shown once), delete (F-TM-6). */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import React, { useState } from 'react';

import { ServiceAccount, unwrap } from '../../api/client';
import { useAction, useResource } from '../../components/hooks';
import { ActionButton, Empty, Field, SecretOnce, Section, Show } from '../../components/ui';
import { useLabdeck } from '../../context';
import { formatDateTime } from '../../format';
import type { ITeamProps } from './TeamView';

export function ServiceAccountsView(props: ITeamProps): JSX.Element {
  const { client } = useLabdeck();
  const { team } = props;
  const accounts = useResource(
    () =>
      unwrap(
        client.GET('/labdeck/api/teams/{team}/service-accounts', {
          params: { path: { team } }
        })
      ),
    [client, team]
  );
  const [name, setName] = useState('');
  const [secret, setSecret] = useState<string | null>(null);
  const create = useAction();
  return (
    <Section title="Service accounts">
      <Show resource={accounts} what="service accounts">
        {list =>
          list.length === 0 ? (
            <Empty>No service account.</Empty>
          ) : (
            <ul className="jp-labdeck-list" aria-label="Service accounts">
              {list.map(a => (
                <AccountRow key={a.name} team={team} account={a} onDeleted={accounts.reload} />
              ))}
            </ul>
          )
        }
      </Show>
      {secret !== null && <SecretOnce secret={secret} onDone={() => setSecret(null)} />}
      <form
        className="jp-labdeck-form jp-labdeck-inline-form"
        aria-label="Create a service account"
        onSubmit={e => {
          e.preventDefault();
          void create.run(async () => {
            const made = await unwrap(
              client.POST('/labdeck/api/teams/{team}/service-accounts', {
                params: { path: { team } },
                body: { name }
              })
            );
            setSecret(made.secret);
            setName('');
            accounts.reload();
          });
        }}
      >
        <Field
          label="New service account"
          name="name"
          value={name}
          placeholder="e.g. ci-bot"
          error={create.error}
          onChange={setName}
        />
        <ActionButton
          quiet
          type="submit"
          action={create}
          onClick={() => undefined}
          disabled={!name}
        >
          Create
        </ActionButton>
      </form>
    </Section>
  );
}

function AccountRow(props: {
  team: string;
  account: ServiceAccount;
  onDeleted: () => void;
}): JSX.Element {
  const { client } = useLabdeck();
  const remove = useAction();
  const { account, team } = props;
  return (
    <li className="jp-labdeck-item">
      <div className="jp-labdeck-item-main">
        <span className="jp-labdeck-strong">{account.name}</span>
        <span className="jp-labdeck-hint">created {formatDateTime(account.created_at)}</span>
      </div>
      <div className="jp-labdeck-item-actions">
        <ActionButton
          small
          danger
          action={remove}
          label={`Delete service account ${account.name}`}
          onClick={async () => {
            const answer = await showDialog({
              title: `Delete ${account.name}?`,
              body: 'Its API keys stop working at once. Runs it logged stay.',
              buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Delete' })]
            });
            if (answer.button.accept) {
              void remove
                .run(() =>
                  unwrap(
                    client.DELETE('/labdeck/api/teams/{team}/service-accounts/{name}', {
                      params: { path: { team, name: account.name } }
                    })
                  )
                )
                .then(ok => ok && props.onDeleted());
            }
          }}
        >
          Delete
        </ActionButton>
      </div>
    </li>
  );
}
