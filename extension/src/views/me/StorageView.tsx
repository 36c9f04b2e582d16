/** Me › Storage: bytes my account stores against its quota, as a bar (F-US-7). */
import React from 'react';

import { unwrap } from '../../api/client';
import { useResource } from '../../components/hooks';
import { Section, Show, UsageBar } from '../../components/ui';
import { useLabdeck } from '../../context';

export function StorageView(): JSX.Element {
  const { client } = useLabdeck();
  const storage = useResource(() => unwrap(client.GET('/labdeck/api/me/storage')), [client]);
  return (
    <Section title="Storage">
      <Show resource={storage} what="your storage">
        {data => <UsageBar label="My storage" used={data.used_bytes} quota={data.quota_bytes} />}
      </Show>
    </Section>
  );
}
