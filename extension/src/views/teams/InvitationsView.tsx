/** Teams › Invitations to me: accept or decline (F-TM-3). */
import React from 'react';

import { Invitation, unwrap } from '../../api/client';
import { useAction, useResource } from '../../components/hooks';
import { ActionButton, Empty, ErrorNote, Section, Show } from '../../components/ui';
import { useLabdeck } from '../../context';
import { formatDateTime } from '../../format';
import { roleLabel } from '../me/labels';

export function InvitationsView(props: { onJoined: () => void }): JSX.Element {
  const { client } = useLabdeck();
  const invitations = useResource(
    () => unwrap(client.GET('/labdeck/api/me/invitations')),
    [client]
  );
  return (
    <Section title="Invitations to me">
      <Show resource={invitations} what="your invitations">
        {list =>
          list.length === 0 ? (
            <Empty>No pending invitation.</Empty>
          ) : (
            <ul className="jp-labdeck-list" aria-label="Invitations to me">
              {list.map(inv => (
                <InvitationRow
                  key={inv.id}
                  invitation={inv}
                  onAnswered={accepted => {
                    invitations.reload();
                    if (accepted) {
                      props.onJoined();
                    }
                  }}
                />
              ))}
            </ul>
          )
        }
      </Show>
    </Section>
  );
}

function InvitationRow(props: {
  invitation: Invitation;
  onAnswered: (accepted: boolean) => void;
}): JSX.Element {
  const { client } = useLabdeck();
  const { invitation } = props;
  const answer = useAction();
  const path = { params: { path: { id: String(invitation.id) } } };
  return (
    <li className="jp-labdeck-item">
      <div className="jp-labdeck-item-main">
        <span className="jp-labdeck-strong">{invitation.team}</span>
        <span className="jp-labdeck-badge">{roleLabel(invitation.role)}</span>
      </div>
      <span className="jp-labdeck-hint">
        from {invitation.invited_by ?? 'a deleted user'} to {invitation.email}, expires{' '}
        {formatDateTime(invitation.expires_at)}
      </span>
      <div className="jp-labdeck-item-actions">
        <ActionButton
          small
          noError
          action={answer}
          label={`Accept the invitation to ${invitation.team}`}
          onClick={() =>
            void answer
              .run(() => unwrap(client.POST('/labdeck/api/invitations/{id}/accept', path)))
              .then(ok => ok && props.onAnswered(true))
          }
        >
          Accept
        </ActionButton>
        <ActionButton
          small
          noError
          danger
          action={answer}
          label={`Decline the invitation to ${invitation.team}`}
          onClick={() =>
            void answer
              .run(() => unwrap(client.POST('/labdeck/api/invitations/{id}/decline', path)))
              .then(ok => ok && props.onAnswered(false))
          }
        >
          Decline
        </ActionButton>
      </div>
      <ErrorNote error={answer.error} />
    </li>
  );
}
