/** The Me tab: my account's settings, one section per view. */
import React from 'react';

import { unwrap } from '../../api/client';
import { useResource } from '../../components/hooks';
import { useLabdeck } from '../../context';
import { AlertSettingsView } from './AlertSettingsView';
import { ApiKeysView } from './ApiKeysView';
import { BetaFeaturesView } from './BetaFeaturesView';
import { DeleteAccountView } from './DeleteAccountView';
import { EmailsView } from './EmailsView';
import { GitHubView } from './GitHubView';
import { ProfileView } from './ProfileView';
import { StorageView } from './StorageView';

export function MeView(): JSX.Element {
  const { client } = useLabdeck();
  const profile = useResource(() => unwrap(client.GET('/labdeck/api/me')), [client]);
  return (
    <div className="jp-labdeck-view" data-view="me">
      <ProfileView profile={profile} />
      <EmailsView />
      <ApiKeysView />
      <BetaFeaturesView />
      <AlertSettingsView />
      <GitHubView />
      <StorageView />
      {profile.loaded.state === 'ready' && (
        <DeleteAccountView username={profile.loaded.data.username} />
      )}
    </div>
  );
}
