/** Me › Profile: name, institution, biography, location, website, image (F-US-1, F-US-2). */
import React, { useCallback, useState } from 'react';

import { Profile, rawBody, unwrap } from '../../api/client';
import { Avatar } from '../../components/avatar';
import { IResource, useAction } from '../../components/hooks';
import { ActionButton, ErrorNote, Field, Section, Show } from '../../components/ui';
import { useLabdeck } from '../../context';

const FIELDS = [
  { name: 'name', label: 'Name' },
  { name: 'institution', label: 'Institution' },
  { name: 'location', label: 'Location' },
  { name: 'website', label: 'Website', placeholder: 'https://…' },
  { name: 'bio', label: 'Biography', multiline: true }
] as const;

type Editable = (typeof FIELDS)[number]['name'];
type Draft = Record<Editable, string>;

function draftOf(profile: Profile): Draft {
  return {
    name: profile.name,
    institution: profile.institution,
    location: profile.location,
    website: profile.website,
    bio: profile.bio
  };
}

export function ProfileView(props: { profile: IResource<Profile> }): JSX.Element {
  const { profile } = props;
  return (
    <Section title="Profile">
      <Show resource={profile} what="your profile">
        {data => <ProfileForm profile={data} onSaved={profile.set} />}
      </Show>
    </Section>
  );
}

function ProfileForm(props: { profile: Profile; onSaved: (p: Profile) => void }): JSX.Element {
  const { client } = useLabdeck();
  const { profile } = props;
  // The draft lives here: a refused save leaves every typed value in place.
  const [draft, setDraft] = useState<Draft>(() => draftOf(profile));
  const [saved, setSaved] = useState(false);
  const save = useAction();
  const image = useAction();
  const loadAvatar = useCallback(
    () =>
      unwrap(
        client.GET('/labdeck/api/users/{username}/avatar', {
          params: { path: { username: profile.username } },
          parseAs: 'blob'
        })
      ) as Promise<Blob>,
    [client, profile.username]
  );
  const dirty = FIELDS.some(f => draft[f.name] !== profile[f.name]);

  const onSubmit = (event: React.FormEvent) => {
    event.preventDefault();
    setSaved(false);
    void save
      .run(() => unwrap(client.PATCH('/labdeck/api/me', { body: draft })))
      .then(async ok => {
        if (ok) {
          const fresh = await unwrap(client.GET('/labdeck/api/me'));
          props.onSaved(fresh);
          setDraft(draftOf(fresh));
          setSaved(true);
        }
      });
  };

  const onImage = (file: File | undefined) => {
    if (!file) {
      return;
    }
    void image.run(async () => {
      const updated = await unwrap(
        client.PUT('/labdeck/api/me/avatar', {
          body: file as unknown as string,
          bodySerializer: rawBody,
          headers: { 'Content-Type': 'application/octet-stream' }
        })
      );
      props.onSaved(updated);
    });
  };

  return (
    <form className="jp-labdeck-form" onSubmit={onSubmit} aria-label="Profile">
      <div className="jp-labdeck-row jp-labdeck-profile-head">
        <Avatar
          load={profile.avatar_url ? loadAvatar : null}
          alt={profile.name || profile.username}
          version={profile.avatar_url + String(image.busy)}
        />
        <div>
          <div className="jp-labdeck-strong">{profile.username}</div>
          <div className="jp-labdeck-hint">
            {profile.account_type === 'admin' ? 'Admin account' : 'User account'}
          </div>
          <label className="jp-labdeck-file">
            <span className="jp-Button jp-mod-small jp-labdeck-secondary">Upload image…</span>
            <input
              type="file"
              accept="image/png,image/jpeg,image/gif,image/webp"
              aria-label="Upload a profile image"
              onChange={e => onImage(e.target.files?.[0])}
            />
          </label>
          {profile.avatar_url && (
            <ActionButton
              small
              secondary
              action={image}
              onClick={() =>
                void image.run(async () => {
                  await unwrap(client.DELETE('/labdeck/api/me/avatar'));
                  props.onSaved({ ...profile, avatar_url: null });
                })
              }
            >
              Remove image
            </ActionButton>
          )}
          {!profile.avatar_url && <ErrorNote error={image.error} />}
        </div>
      </div>
      {FIELDS.map(f => (
        <Field
          key={f.name}
          label={f.label}
          name={f.name}
          value={draft[f.name]}
          multiline={'multiline' in f}
          placeholder={'placeholder' in f ? f.placeholder : undefined}
          error={save.error}
          onChange={value => {
            setSaved(false);
            setDraft(d => ({ ...d, [f.name]: value }));
          }}
        />
      ))}
      <div className="jp-labdeck-row">
        <ActionButton quiet type="submit" action={save} onClick={() => undefined} disabled={!dirty}>
          Save profile
        </ActionButton>
        {saved && !dirty && (
          <span className="jp-labdeck-ok" role="status">
            Saved
          </span>
        )}
      </div>
    </form>
  );
}
