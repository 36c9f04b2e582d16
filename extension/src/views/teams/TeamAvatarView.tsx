/** Team › Avatar: shown to members; team admins upload a new one (F-TS-3). */
import React, { useCallback, useState } from 'react';

import { rawBody, unwrap } from '../../api/client';
import { Avatar } from '../../components/avatar';
import { useAction } from '../../components/hooks';
import { ErrorNote } from '../../components/ui';
import { useLabdeck } from '../../context';
import type { ITeamProps } from './TeamView';

export function TeamAvatarView(props: ITeamProps): JSX.Element {
  const { client } = useLabdeck();
  const { team } = props;
  const [version, setVersion] = useState(0);
  const upload = useAction();
  const load = useCallback(
    () =>
      unwrap(
        client.GET('/labdeck/api/teams/{team}/avatar', {
          params: { path: { team } },
          parseAs: 'blob'
        })
      ) as Promise<Blob>,
    [client, team]
  );
  return (
    <div className="jp-labdeck-team-avatar">
      <Avatar load={load} alt={`${team} avatar`} version={version} />
      {props.may('manage team settings') && (
        <label className="jp-labdeck-file">
          <span className="jp-Button jp-mod-small jp-labdeck-secondary">Change…</span>
          <input
            type="file"
            accept="image/png,image/jpeg,image/gif,image/webp"
            aria-label={`Upload an avatar for ${team}`}
            onChange={e => {
              const file = e.target.files?.[0];
              if (file) {
                void upload
                  .run(() =>
                    unwrap(
                      client.PUT('/labdeck/api/teams/{team}/avatar', {
                        params: { path: { team } },
                        body: file as unknown as string,
                        bodySerializer: rawBody,
                        headers: { 'Content-Type': 'application/octet-stream' }
                      })
                    )
                  )
                  .then(ok => ok && setVersion(v => v + 1));
              }
            }}
          />
        </label>
      )}
      <ErrorNote error={upload.error} />
    </div>
  );
}
