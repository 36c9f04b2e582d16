/**
 * One team: its sections, each shown when the server says the caller may
 * use it (`/teams/{team}/permissions`, from the permission table). The
 * server still decides every call; a refusal appears next to its control.
 */
import { Button } from '@jupyterlab/ui-components';
import React from 'react';

import { TeamDetail, TeamPermissions, unwrap } from '../../api/client';
import { useResource } from '../../components/hooks';
import { Show } from '../../components/ui';
import { useLabdeck } from '../../context';
import { roleLabel } from '../me/labels';
import { CustomRolesView } from './CustomRolesView';
import { MembersView } from './MembersView';
import { ServiceAccountsView } from './ServiceAccountsView';
import { TeamAvatarView } from './TeamAvatarView';
import { TeamProfileView } from './TeamProfileView';
import { TeamSettingsView } from './TeamSettingsView';
import { TeamUsageView } from './TeamUsageView';

export interface ITeamProps {
  team: string;
  detail: TeamDetail;
  permissions: TeamPermissions;
  /** Whether the caller may take this table action on the team. */
  may: (action: string) => boolean;
  /** Something changed that the team's header reflects (counts, roles). */
  onChanged: () => void;
}

export function TeamView(props: { team: string; onBack: () => void }): JSX.Element {
  const { client } = useLabdeck();
  const path = { params: { path: { team: props.team } } };
  const loaded = useResource(
    () =>
      Promise.all([
        unwrap(client.GET('/labdeck/api/teams/{team}', path)),
        unwrap(client.GET('/labdeck/api/teams/{team}/permissions', path))
      ]),
    [client, props.team]
  );
  return (
    <div className="jp-labdeck-view" data-view="team" data-team={props.team}>
      <div className="jp-labdeck-row">
        <Button small minimal onClick={props.onBack} aria-label="Back to my teams">
          ‹ Teams
        </Button>
      </div>
      <Show resource={loaded} what="the team">
        {([detail, permissions]) => {
          const team: ITeamProps = {
            team: detail.name,
            detail,
            permissions,
            may: action => permissions.actions.includes(action),
            onChanged: loaded.reload
          };
          return (
            <>
              <header className="jp-labdeck-team-head">
                <TeamAvatarView {...team} />
                <div>
                  <h2 className="jp-labdeck-title">{detail.name}</h2>
                  <div className="jp-labdeck-hint">
                    {detail.type === 'academic' ? 'Academic' : 'Work'} team of {detail.organization}{' '}
                    · {detail.member_count} {detail.member_count === 1 ? 'member' : 'members'} · you
                    are {roleLabel(detail.my_role)}
                  </div>
                </div>
              </header>
              <MembersView {...team} />
              <TeamProfileView {...team} />
              <CustomRolesView {...team} />
              {team.may('manage service accounts') && <ServiceAccountsView {...team} />}
              {team.may('view team settings') && <TeamSettingsView {...team} />}
              {team.may('view team settings') && <TeamUsageView {...team} />}
            </>
          );
        }}
      </Show>
    </div>
  );
}
