/** Me › GitHub: the connected login, connect (OAuth in a new tab), disconnect (F-US-5). */
import React from 'react';

import { unwrap } from '../../api/client';
import { useAction, useResource } from '../../components/hooks';
import { ActionButton, Section, Show } from '../../components/ui';
import { useLabdeck } from '../../context';

export function GitHubView(): JSX.Element {
  const { client } = useLabdeck();
  const github = useResource(() => unwrap(client.GET('/labdeck/api/me/github')), [client]);
  const action = useAction();
  return (
    <Section title="GitHub">
      <Show resource={github} what="your GitHub connection">
        {data =>
          data.connected ? (
            <div className="jp-labdeck-row">
              <span>
                Connected as <span className="jp-labdeck-strong">{data.login}</span>
              </span>
              <ActionButton
                small
                danger
                action={action}
                onClick={() =>
                  void action
                    .run(() => unwrap(client.DELETE('/labdeck/api/me/github')))
                    .then(ok => ok && github.reload())
                }
              >
                Disconnect
              </ActionButton>
            </div>
          ) : (
            <div className="jp-labdeck-row">
              <span className="jp-labdeck-hint">Not connected.</span>
              <ActionButton
                small
                action={action}
                onClick={() =>
                  void action.run(async () => {
                    const { authorize_url } = await unwrap(
                      client.POST('/labdeck/api/me/github/connect')
                    );
                    window.open(authorize_url, '_blank', 'noopener');
                  })
                }
              >
                Connect GitHub
              </ActionButton>
              <ActionButton small secondary action={action} onClick={github.reload}>
                Check again
              </ActionButton>
            </div>
          )
        }
      </Show>
    </Section>
  );
}
