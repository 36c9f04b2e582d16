/**
 * Team › Members and pending invitations: name, user name, email, role,
 * Models/Weave access; invite, change role, remove, cancel; the warning
 * while the team has a single admin (F-TM-2, F-TM-3, F-TM-4).
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { Button } from '@jupyterlab/ui-components';
import React, { useState } from 'react';

import { Invitation, Member, MemberPage, unwrap } from '../../api/client';
import { useAction, useResource } from '../../components/hooks';
import { ActionButton, Empty, ErrorNote, Field, Section, Select, Show } from '../../components/ui';
import { useLabdeck } from '../../context';
import { formatDateTime } from '../../format';
import { roleLabel } from '../me/labels';
import { loadCustomRoles, roleOptions } from './roles';
import type { ITeamProps } from './TeamView';

const ACCESS = [
  { value: 'full', label: 'Full' },
  { value: 'limited', label: 'Limited' },
  { value: 'none', label: 'None' }
];
const PAGE = 50;

export function MembersView(props: ITeamProps): JSX.Element {
  const { client } = useLabdeck();
  const { team, detail } = props;
  const path = { team };
  const [more, setMore] = useState<Member[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const paging = useAction();
  const page = useResource(async () => {
    const first: MemberPage = await unwrap(
      client.GET('/labdeck/api/teams/{team}/members', {
        params: { path, query: { limit: PAGE } }
      })
    );
    setMore([]);
    setCursor(first.next_cursor);
    return first;
  }, [client, team]);
  const roles = useResource(
    () => loadCustomRoles(client, detail.organization),
    [client, detail.organization]
  );
  const options = roleOptions(roles.loaded.state === 'ready' ? roles.loaded.data : []);
  const changed = () => {
    page.reload();
    props.onChanged();
  };
  const loadMore = () =>
    void paging.run(async () => {
      const next = await unwrap(
        client.GET('/labdeck/api/teams/{team}/members', {
          params: { path, query: { limit: PAGE, cursor: cursor ?? undefined } }
        })
      );
      setMore(m => [...m, ...next.items]);
      setCursor(next.next_cursor);
    });

  return (
    <Section title="Members">
      {detail.only_one_admin && props.may('change member roles') && (
        <div className="jp-labdeck-warning" role="note">
          This team has only one admin. Make another member an admin so that the team is never left
          without one.
        </div>
      )}
      <Show resource={page} what="the members">
        {first => (
          <>
            <ul className="jp-labdeck-list" aria-label={`Members of ${team}`}>
              {[...first.items, ...more].map(m => (
                <MemberRow
                  key={m.username}
                  {...props}
                  member={m}
                  roleOptions={options}
                  onChanged={changed}
                />
              ))}
            </ul>
            {cursor !== null && (
              <ActionButton small secondary action={paging} onClick={loadMore}>
                More members
              </ActionButton>
            )}
            <h4 className="jp-labdeck-subtitle">Pending invitations</h4>
            {first.invitations.length === 0 ? (
              <Empty>No pending invitation.</Empty>
            ) : (
              <ul className="jp-labdeck-list" aria-label={`Pending invitations of ${team}`}>
                {first.invitations.map(inv => (
                  <PendingRow key={inv.id} {...props} invitation={inv} onChanged={changed} />
                ))}
              </ul>
            )}
          </>
        )}
      </Show>
      {props.may('invite members') && (
        <InviteForm team={team} roleOptions={options} onInvited={changed} />
      )}
    </Section>
  );
}

function MemberRow(
  props: ITeamProps & {
    member: Member;
    roleOptions: Array<{ value: string; label: string }>;
  }
): JSX.Element {
  const { client } = useLabdeck();
  const { member, team, permissions } = props;
  // The role asked for stays shown when the server refuses it, beside the reason.
  const [role, setRole] = useState(member.role);
  const action = useAction();
  const path = { params: { path: { team, username: member.username } } };
  const options = props.roleOptions.some(o => o.value === role)
    ? props.roleOptions
    : [...props.roleOptions, { value: role, label: roleLabel(role) }];
  const setAccess = (field: 'models_access' | 'weave_access', value: string) =>
    void action
      .run(() =>
        unwrap(
          client.PATCH('/labdeck/api/orgs/{org}/members/{username}', {
            params: { path: { org: permissions.organization, username: member.username } },
            body: { [field]: value as 'full' | 'limited' | 'none' }
          })
        )
      )
      .then(ok => ok && props.onChanged());
  return (
    <li className="jp-labdeck-item jp-labdeck-member" data-member={member.username}>
      <div className="jp-labdeck-item-main">
        <span className="jp-labdeck-strong">{member.username}</span>
        {member.name && <span>{member.name}</span>}
        {!props.may('change member roles') && (
          <span className="jp-labdeck-badge">{roleLabel(member.role)}</span>
        )}
      </div>
      <span className="jp-labdeck-hint">{member.email ?? 'no verified email'}</span>
      <div className="jp-labdeck-row jp-labdeck-member-controls">
        {props.may('change member roles') && (
          <Select
            label="Role"
            aria-label={`Role of ${member.username}`}
            value={role}
            options={options}
            disabled={action.busy}
            onChange={value => {
              setRole(value);
              void action
                .run(() =>
                  unwrap(
                    client.PATCH('/labdeck/api/teams/{team}/members/{username}', {
                      ...path,
                      body: { role: value }
                    })
                  )
                )
                .then(ok => ok && props.onChanged());
            }}
          />
        )}
        {(['models_access', 'weave_access'] as const).map(field => {
          const name = field === 'models_access' ? 'Models' : 'Weave';
          return permissions.organization_admin ? (
            <Select
              key={field}
              label={name}
              aria-label={`${name} access of ${member.username}`}
              value={member[field]}
              options={ACCESS}
              disabled={action.busy}
              onChange={value => setAccess(field, value)}
            />
          ) : (
            <span key={field} className="jp-labdeck-hint">
              {name}: {member[field]}
            </span>
          );
        })}
        {props.may('remove team members') && (
          <Button
            small
            className="jp-labdeck-danger jp-labdeck-push-right"
            aria-label={`Remove ${member.username} from ${team}`}
            disabled={action.busy}
            onClick={async () => {
              const answer = await showDialog({
                title: `Remove ${member.username}?`,
                body: `${member.username} leaves ${team}. The runs they logged stay.`,
                buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Remove' })]
              });
              if (answer.button.accept) {
                void action
                  .run(() =>
                    unwrap(client.DELETE('/labdeck/api/teams/{team}/members/{username}', path))
                  )
                  .then(ok => ok && props.onChanged());
              }
            }}
          >
            Remove
          </Button>
        )}
      </div>
      <ErrorNote error={action.error} />
    </li>
  );
}

function PendingRow(props: ITeamProps & { invitation: Invitation }): JSX.Element {
  const { client } = useLabdeck();
  const { invitation, team } = props;
  const cancel = useAction();
  return (
    <li className="jp-labdeck-item" data-invitation={invitation.email}>
      <div className="jp-labdeck-item-main">
        <span className="jp-labdeck-strong">{invitation.email}</span>
        <span className="jp-labdeck-badge">{roleLabel(invitation.role)}</span>
        <span className="jp-labdeck-badge jp-mod-pending">pending</span>
      </div>
      <span className="jp-labdeck-hint">
        invited by {invitation.invited_by ?? 'a deleted user'}, expires{' '}
        {formatDateTime(invitation.expires_at)}
      </span>
      {props.may('invite members') && (
        <div className="jp-labdeck-item-actions">
          <ActionButton
            small
            danger
            action={cancel}
            label={`Cancel the invitation of ${invitation.email}`}
            onClick={() =>
              void cancel
                .run(() =>
                  unwrap(
                    client.DELETE('/labdeck/api/teams/{team}/invitations/{id}', {
                      params: { path: { team, id: String(invitation.id) } }
                    })
                  )
                )
                .then(ok => ok && props.onChanged())
            }
          >
            Cancel
          </ActionButton>
        </div>
      )}
    </li>
  );
}

function InviteForm(props: {
  team: string;
  roleOptions: Array<{ value: string; label: string }>;
  onInvited: () => void;
}): JSX.Element {
  const { client } = useLabdeck();
  const [email, setEmail] = useState('');
  const [role, setRole] = useState('member');
  const invite = useAction();
  return (
    <form
      className="jp-labdeck-form jp-labdeck-invite"
      aria-label={`Invite to ${props.team}`}
      onSubmit={e => {
        e.preventDefault();
        void invite
          .run(() =>
            unwrap(
              client.POST('/labdeck/api/teams/{team}/invitations', {
                params: { path: { team: props.team } },
                body: { email, role }
              })
            )
          )
          .then(ok => {
            if (ok) {
              setEmail('');
              props.onInvited();
            }
          });
      }}
    >
      <h4 className="jp-labdeck-subtitle">Invite someone</h4>
      <Field
        label="Email"
        name="email"
        type="email"
        value={email}
        placeholder="colleague@example.org"
        error={invite.error}
        onChange={setEmail}
      />
      <Select label="Role" value={role} options={props.roleOptions} onChange={setRole} />
      <ActionButton quiet type="submit" action={invite} onClick={() => undefined} disabled={!email}>
        Send invitation
      </ActionButton>
    </form>
  );
}
