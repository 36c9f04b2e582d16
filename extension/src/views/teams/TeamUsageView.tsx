/** Team › Usage: bytes stored against the quota, and the export archive (F-TS-5, F-TS-7). */
import React from 'react';

import { unwrap } from '../../api/client';
import { DownloadButton } from '../../components/download';
import { useResource } from '../../components/hooks';
import { Section, Show, UsageBar } from '../../components/ui';
import { useLabdeck } from '../../context';
import type { ITeamProps } from './TeamView';

export function TeamUsageView(props: ITeamProps): JSX.Element {
  const { client } = useLabdeck();
  const { team } = props;
  const path = { params: { path: { team } } };
  const storage = useResource(
    () => unwrap(client.GET('/labdeck/api/teams/{team}/storage', path)),
    [client, team]
  );
  return (
    <Section title="Usage">
      <Show resource={storage} what="the team's storage">
        {data => (
          <UsageBar label={`Storage of ${team}`} used={data.used_bytes} quota={data.quota_bytes} />
        )}
      </Show>
      <DownloadButton
        filename={`labdeck-team-${team}.zip`}
        load={() =>
          unwrap(
            client.GET('/labdeck/api/teams/{team}/export', { ...path, parseAs: 'blob' })
          ) as Promise<Blob>
        }
      >
        Export the team's data
      </DownloadButton>
    </Section>
  );
}
