/** Teams › Create a team (admin accounts): name, Work or Academic, organization (F-TM-1). */
import React, { useId, useState } from 'react';

import { unwrap } from '../../api/client';
import { useAction, useResource } from '../../components/hooks';
import { ActionButton, Field, Section, Select } from '../../components/ui';
import { useLabdeck } from '../../context';

const TYPES = [
  { value: 'work', label: 'Work' },
  { value: 'academic', label: 'Academic' }
];

export function CreateTeamView(props: { onCreated: (name: string) => void }): JSX.Element {
  const { client } = useLabdeck();
  const orgs = useResource(() => unwrap(client.GET('/labdeck/api/orgs')), [client]);
  const [name, setName] = useState('');
  const [type, setType] = useState<'work' | 'academic'>('work');
  const [organization, setOrganization] = useState('');
  const create = useAction();
  const listId = useId();
  return (
    <Section title="Create a team">
      <p className="jp-labdeck-hint">
        A team's name is permanent: 3–64 characters of a–z, 0–9, - and _. Pick an organization, or
        name a new one to create it.
      </p>
      <form
        className="jp-labdeck-form"
        aria-label="Create a team"
        onSubmit={e => {
          e.preventDefault();
          void create.run(async () => {
            const team = await unwrap(
              client.POST('/labdeck/api/teams', { body: { name, type, organization } })
            );
            setName('');
            setOrganization('');
            props.onCreated(team.name);
          });
        }}
      >
        <Field label="Team name" name="name" value={name} error={create.error} onChange={setName} />
        <Select
          label="Type"
          value={type}
          options={TYPES}
          onChange={v => setType(v === 'academic' ? 'academic' : 'work')}
        />
        <Field
          label="Organization"
          name="organization"
          value={organization}
          list={listId}
          error={create.error}
          onChange={setOrganization}
        />
        <datalist id={listId}>
          {orgs.loaded.state === 'ready' &&
            orgs.loaded.data.map(o => <option key={o.name} value={o.name} />)}
        </datalist>
        <ActionButton
          quiet
          type="submit"
          action={create}
          onClick={() => undefined}
          disabled={!name || !organization}
        >
          Create team
        </ActionButton>
      </form>
    </Section>
  );
}
