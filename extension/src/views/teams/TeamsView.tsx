/** The Teams tab: my teams and invitations, creating a team, and one team opened. */
import { Button } from '@jupyterlab/ui-components';
import React from 'react';

import { unwrap } from '../../api/client';
import { useResource } from '../../components/hooks';
import { Empty, Section, Show } from '../../components/ui';
import { useLabdeck, useSignal } from '../../context';
import { roleLabel } from '../me/labels';
import { CreateTeamView } from './CreateTeamView';
import { InvitationsView } from './InvitationsView';
import { TeamView } from './TeamView';

export function TeamsView(): JSX.Element {
  const { client, model } = useLabdeck();
  useSignal(model.changed);
  const teams = useResource(() => unwrap(client.GET('/labdeck/api/teams')), [client]);
  const account = useResource(() => unwrap(client.GET('/labdeck/api/me/permissions')), [client]);
  if (model.team !== null) {
    return (
      <TeamView
        key={model.team}
        team={model.team}
        onBack={() => {
          model.openTeam(null);
          teams.reload();
        }}
      />
    );
  }
  const mayCreate =
    account.loaded.state === 'ready' &&
    account.loaded.data.actions.includes('create or delete teams');
  return (
    <div className="jp-labdeck-view" data-view="teams">
      <Section title="My teams">
        <Show resource={teams} what="your teams">
          {list =>
            list.length === 0 ? (
              <Empty>You belong to no team yet.</Empty>
            ) : (
              <ul className="jp-labdeck-list" aria-label="My teams">
                {list.map(team => (
                  <li key={team.name} className="jp-labdeck-item" data-team={team.name}>
                    <div className="jp-labdeck-item-main">
                      <Button
                        minimal
                        className="jp-labdeck-link"
                        aria-label={`Open team ${team.name}`}
                        onClick={() => model.openTeam(team.name)}
                      >
                        {team.name}
                      </Button>
                      <span className="jp-labdeck-badge">{roleLabel(team.my_role)}</span>
                    </div>
                    <span className="jp-labdeck-hint">
                      {team.type === 'academic' ? 'Academic' : 'Work'} · organization{' '}
                      {team.organization}
                    </span>
                  </li>
                ))}
              </ul>
            )
          }
        </Show>
      </Section>
      <InvitationsView onJoined={teams.reload} />
      {mayCreate && <CreateTeamView onCreated={name => (teams.reload(), model.openTeam(name))} />}
    </div>
  );
}
