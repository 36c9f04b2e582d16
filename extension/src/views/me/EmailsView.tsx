/** Me › Emails: primary marker, unverified in red, add / resend / make primary / delete (F-EM-1..4). */
import React, { useState } from 'react';

import { Email, unwrap } from '../../api/client';
import { IAction, useAction, useResource } from '../../components/hooks';
import { ActionButton, Empty, ErrorNote, Field, Section, Show } from '../../components/ui';
import { useLabdeck } from '../../context';

export function EmailsView(): JSX.Element {
  const { client } = useLabdeck();
  const emails = useResource(() => unwrap(client.GET('/labdeck/api/me/emails')), [client]);
  return (
    <Section title="Emails">
      <Show resource={emails} what="your emails">
        {list => (
          <>
            {list.length === 0 ? (
              <Empty>No email address yet.</Empty>
            ) : (
              <ul className="jp-labdeck-list" aria-label="Email addresses">
                {list.map(email => (
                  <EmailRow key={email.id} email={email} onChanged={emails.reload} />
                ))}
              </ul>
            )}
            <AddEmail onAdded={emails.reload} />
          </>
        )}
      </Show>
    </Section>
  );
}

function EmailRow(props: { email: Email; onChanged: () => void }): JSX.Element {
  const { client } = useLabdeck();
  const { email } = props;
  const action = useAction();
  const [sent, setSent] = useState(false);
  const path = { params: { path: { email_id: String(email.id) } } };
  const act = (work: () => Promise<unknown>, after?: () => void) =>
    void action.run(work).then(ok => {
      if (ok) {
        after?.();
        props.onChanged();
      }
    });
  return (
    <li className="jp-labdeck-item" data-email={email.address}>
      <div className="jp-labdeck-item-main">
        <span className="jp-labdeck-strong">{email.address}</span>
        {email.primary && <span className="jp-labdeck-badge jp-mod-primary">primary</span>}
        {email.verified ? (
          <span className="jp-labdeck-badge jp-mod-ok">verified</span>
        ) : (
          <span className="jp-labdeck-badge jp-mod-unverified">unverified</span>
        )}
        {email.login_methods.length > 0 && (
          <span className="jp-labdeck-hint">log-in: {email.login_methods.join(', ')}</span>
        )}
      </div>
      <div className="jp-labdeck-item-actions">
        {!email.verified && (
          <EmailButton
            action={action}
            label={`Resend verification to ${email.address}`}
            onClick={() =>
              act(
                () => unwrap(client.POST('/labdeck/api/me/emails/{email_id}/resend', path)),
                () => setSent(true)
              )
            }
          >
            {sent ? 'Sent again' : 'Resend'}
          </EmailButton>
        )}
        {!email.primary && (
          <EmailButton
            action={action}
            label={`Make ${email.address} primary`}
            onClick={() =>
              act(() => unwrap(client.POST('/labdeck/api/me/emails/{email_id}/primary', path)))
            }
          >
            Make primary
          </EmailButton>
        )}
        <EmailButton
          action={action}
          danger
          label={`Delete ${email.address}`}
          onClick={() =>
            act(() => unwrap(client.DELETE('/labdeck/api/me/emails/{email_id}', path)))
          }
        >
          Delete
        </EmailButton>
      </div>
      <ErrorNote error={action.error} />
    </li>
  );
}

/** The row's buttons share one action: its refusal shows once, under the row. */
function EmailButton(props: {
  action: IAction;
  label: string;
  onClick: () => void;
  danger?: boolean;
  children: React.ReactNode;
}): JSX.Element {
  return (
    <button
      type="button"
      className={`jp-Button jp-mod-small ${props.danger ? 'jp-labdeck-danger' : 'jp-labdeck-secondary'}`}
      aria-label={props.label}
      disabled={props.action.busy}
      onClick={props.onClick}
    >
      {props.children}
    </button>
  );
}

function AddEmail(props: { onAdded: () => void }): JSX.Element {
  const { client } = useLabdeck();
  const [address, setAddress] = useState('');
  const add = useAction();
  return (
    <form
      className="jp-labdeck-form jp-labdeck-inline-form"
      aria-label="Add an email address"
      onSubmit={e => {
        e.preventDefault();
        void add
          .run(() => unwrap(client.POST('/labdeck/api/me/emails', { body: { address } })))
          .then(ok => {
            if (ok) {
              setAddress('');
              props.onAdded();
            }
          });
      }}
    >
      <Field
        label="Add an email"
        name="address"
        type="email"
        value={address}
        placeholder="you@example.org"
        error={add.error}
        onChange={setAddress}
      />
      <ActionButton quiet type="submit" action={add} onClick={() => undefined} disabled={!address}>
        Add
      </ActionButton>
    </form>
  );
}
