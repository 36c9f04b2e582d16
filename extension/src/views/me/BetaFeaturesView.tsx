/** Me › Beta features: each flag with its description, on or off (F-US-3). */
import React from 'react';

import { BetaFeature, unwrap } from '../../api/client';
import { useAction, useResource } from '../../components/hooks';
import { Checkbox, Empty, ErrorNote, Section, Show } from '../../components/ui';
import { useLabdeck } from '../../context';

export function BetaFeaturesView(): JSX.Element {
  const { client } = useLabdeck();
  const features = useResource(() => unwrap(client.GET('/labdeck/api/me/beta-features')), [client]);
  const toggle = useAction();
  const set = (feature: BetaFeature, enabled: boolean) =>
    void toggle.run(async () => {
      const body = { [feature.name]: enabled };
      features.set(await unwrap(client.PATCH('/labdeck/api/me/beta-features', { body })));
    });
  return (
    <Section title="Beta features">
      <Show resource={features} what="beta features">
        {list =>
          list.length === 0 ? (
            <Empty>No beta feature is offered.</Empty>
          ) : (
            <div role="group" aria-label="Beta features">
              {list.map(f => (
                <Checkbox
                  key={f.name}
                  label={f.name.replace(/_/g, ' ')}
                  description={f.description}
                  checked={f.enabled}
                  disabled={toggle.busy}
                  onChange={on => set(f, on)}
                />
              ))}
            </div>
          )
        }
      </Show>
      <ErrorNote error={toggle.error} />
    </Section>
  );
}
