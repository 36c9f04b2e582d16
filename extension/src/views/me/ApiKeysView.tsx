/** Me › API keys: list by prefix, create (the secret shown once, with a copy button), revoke (F-ID-3). */
import React, { useState } from 'react';

import { ApiKey, unwrap } from '../../api/client';
import { useAction, useResource } from '../../components/hooks';
import { ActionButton, Empty, Field, SecretOnce, Section, Show } from '../../components/ui';
import { useLabdeck } from '../../context';
import { formatDateTime } from '../../format';

export function ApiKeysView(): JSX.Element {
  const { client } = useLabdeck();
  const keys = useResource(() => unwrap(client.GET('/labdeck/api/me/api-keys')), [client]);
  const [name, setName] = useState('');
  const [secret, setSecret] = useState<string | null>(null);
  const create = useAction();
  return (
    <Section title="API keys">
      <p className="jp-labdeck-hint">
        Scripts, remote kernels and the command line sign in with a key. Only its prefix is kept
        visible.
      </p>
      <Show resource={keys} what="your API keys">
        {list =>
          list.length === 0 ? (
            <Empty>No API key.</Empty>
          ) : (
            <ul className="jp-labdeck-list" aria-label="API keys">
              {list.map(key => (
                <KeyRow key={key.id} apiKey={key} onRevoked={keys.reload} />
              ))}
            </ul>
          )
        }
      </Show>
      {secret !== null && <SecretOnce secret={secret} onDone={() => setSecret(null)} />}
      <form
        className="jp-labdeck-form jp-labdeck-inline-form"
        aria-label="Create an API key"
        onSubmit={e => {
          e.preventDefault();
          void create.run(async () => {
            const made = await unwrap(client.POST('/labdeck/api/me/api-keys', { body: { name } }));
            setSecret(made.secret);
            setName('');
            keys.reload();
          });
        }}
      >
        <Field
          label="New key's name"
          name="name"
          value={name}
          placeholder="e.g. laptop"
          error={create.error}
          onChange={setName}
        />
        <ActionButton quiet type="submit" action={create} onClick={() => undefined}>
          Create key
        </ActionButton>
      </form>
    </Section>
  );
}

function KeyRow(props: { apiKey: ApiKey; onRevoked: () => void }): JSX.Element {
  const { client } = useLabdeck();
  const { apiKey } = props;
  const revoke = useAction();
  return (
    <li className="jp-labdeck-item" data-key={apiKey.prefix}>
      <div className="jp-labdeck-item-main">
        <code className="jp-labdeck-strong">{apiKey.prefix}…</code>
        {apiKey.name && <span>{apiKey.name}</span>}
        <span className="jp-labdeck-push-right">
          <ActionButton
            small
            danger
            action={revoke}
            label={`Revoke key ${apiKey.prefix}`}
            onClick={() =>
              void revoke
                .run(() =>
                  unwrap(
                    client.DELETE('/labdeck/api/me/api-keys/{key_id}', {
                      params: { path: { key_id: String(apiKey.id) } }
                    })
                  )
                )
                .then(ok => ok && props.onRevoked())
            }
          >
            Revoke
          </ActionButton>
        </span>
      </div>
      <span className="jp-labdeck-hint">
        created {formatDateTime(apiKey.created_at)} · last used{' '}
        {apiKey.last_used_at ? formatDateTime(apiKey.last_used_at) : 'never'}
      </span>
    </li>
  );
}
