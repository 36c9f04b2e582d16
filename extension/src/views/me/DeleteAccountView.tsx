/** Me › Delete account: irreversible, confirmed by typing the user name (F-US-6). */
import React, { useState } from 'react';

import { unwrap } from '../../api/client';
import { useAction } from '../../components/hooks';
import { ActionButton, Field, Section } from '../../components/ui';
import { useLabdeck } from '../../context';

export function DeleteAccountView(props: { username: string }): JSX.Element {
  const { client } = useLabdeck();
  const [typed, setTyped] = useState('');
  const [gone, setGone] = useState(false);
  const remove = useAction();
  if (gone) {
    return (
      <Section title="Delete account" className="jp-labdeck-danger-zone">
        <p role="status">Your account was deleted. Reload the page to start afresh.</p>
      </Section>
    );
  }
  return (
    <Section title="Delete account" className="jp-labdeck-danger-zone">
      <p className="jp-labdeck-hint">
        This removes your profile, emails, keys, memberships and personal projects for good. Runs
        you logged to team projects stay, credited to a deleted user. Type your user name,{' '}
        <span className="jp-labdeck-strong">{props.username}</span>, to confirm.
      </p>
      <form
        className="jp-labdeck-form jp-labdeck-inline-form"
        aria-label="Delete my account"
        onSubmit={e => {
          e.preventDefault();
          void remove
            .run(() => unwrap(client.DELETE('/labdeck/api/me', { body: { confirm: typed } })))
            .then(ok => ok && setGone(true));
        }}
      >
        <Field
          label="User name"
          name="confirm"
          value={typed}
          error={remove.error}
          onChange={setTyped}
        />
        <ActionButton
          danger
          type="submit"
          action={remove}
          onClick={() => undefined}
          disabled={typed.trim() === ''}
        >
          Delete my account
        </ActionButton>
      </form>
    </Section>
  );
}
