/** Team › Custom roles of its organization; organization admins define new ones (F-TM-5). */
import React, { useState } from 'react';

import { unwrap } from '../../api/client';
import { useAction, useResource } from '../../components/hooks';
import { ActionButton, Checkbox, Empty, Field, Section, Select, Show } from '../../components/ui';
import { useLabdeck } from '../../context';
import { roleLabel } from '../me/labels';
import { loadCustomRoles } from './roles';
import type { ITeamProps } from './TeamView';

const BASES = [
  { value: 'view_only', label: 'View-only' },
  { value: 'member', label: 'Member' }
];

export function CustomRolesView(props: ITeamProps): JSX.Element {
  const { client } = useLabdeck();
  const org = props.permissions.organization;
  const roles = useResource(() => loadCustomRoles(client, org), [client, org]);
  return (
    <Section title={`Custom roles of ${org}`}>
      <Show resource={roles} what="custom roles">
        {list =>
          list.length === 0 ? (
            <Empty>No custom role.</Empty>
          ) : (
            <ul className="jp-labdeck-list" aria-label="Custom roles">
              {list.map(role => (
                <li key={role.id} className="jp-labdeck-item">
                  <div className="jp-labdeck-item-main">
                    <span className="jp-labdeck-strong">{role.name}</span>
                    <span className="jp-labdeck-badge">based on {roleLabel(role.base_role)}</span>
                  </div>
                  <span className="jp-labdeck-hint">
                    {role.permissions.length
                      ? `also may: ${role.permissions.join(', ')}`
                      : 'no extra permission'}
                  </span>
                </li>
              ))}
            </ul>
          )
        }
      </Show>
      {props.permissions.organization_admin && (
        <CustomRoleForm
          org={org}
          actions={props.permissions.custom_role_actions}
          onCreated={() => {
            roles.reload();
            props.onChanged();
          }}
        />
      )}
    </Section>
  );
}

function CustomRoleForm(props: {
  org: string;
  actions: string[];
  onCreated: () => void;
}): JSX.Element {
  const { client } = useLabdeck();
  const [name, setName] = useState('');
  const [base, setBase] = useState<'view_only' | 'member'>('view_only');
  const [extra, setExtra] = useState<string[]>([]);
  const create = useAction();
  return (
    <details className="jp-labdeck-disclosure">
      <summary>Define a custom role</summary>
      <form
        className="jp-labdeck-form"
        aria-label="Define a custom role"
        onSubmit={e => {
          e.preventDefault();
          void create
            .run(() =>
              unwrap(
                client.POST('/labdeck/api/orgs/{org}/custom-roles', {
                  params: { path: { org: props.org } },
                  body: { name, base_role: base, permissions: extra }
                })
              )
            )
            .then(ok => {
              if (ok) {
                setName('');
                setExtra([]);
                props.onCreated();
              }
            });
        }}
      >
        <Field label="Role name" name="name" value={name} error={create.error} onChange={setName} />
        <Select
          label="Based on"
          value={base}
          options={BASES}
          onChange={v => setBase(v === 'member' ? 'member' : 'view_only')}
        />
        <fieldset className="jp-labdeck-fieldset">
          <legend>Extra permissions</legend>
          <div className="jp-labdeck-columns">
            {props.actions.map(action => (
              <Checkbox
                key={action}
                label={action}
                checked={extra.includes(action)}
                onChange={on =>
                  setExtra(list => (on ? [...list, action] : list.filter(a => a !== action)))
                }
              />
            ))}
          </div>
        </fieldset>
        <ActionButton
          quiet
          type="submit"
          action={create}
          onClick={() => undefined}
          disabled={!name}
        >
          Create role
        </ActionButton>
      </form>
    </details>
  );
}
