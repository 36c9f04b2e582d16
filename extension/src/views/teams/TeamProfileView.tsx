/**
 * Team › Profile: the intro (Markdown, through JupyterLab's sanitizing
 * renderer), links, showcased projects and reports, who may see it; team
 * admins edit it (F-TM-9).
 */
import React, { useState } from 'react';

import { TeamProfile, unwrap } from '../../api/client';
import { useAction, useResource } from '../../components/hooks';
import { ActionButton, Checkbox, Empty, Field, Section, Select, Show } from '../../components/ui';
import { Markdown } from '../../components/markdown';
import { useLabdeck } from '../../context';
import type { ITeamProps } from './TeamView';

const VISIBILITY = [
  { value: 'members', label: 'Members only' },
  { value: 'public', label: 'Everyone signed in' }
];

/** Only http(s) links become links; anything else stays text. */
function isWebUrl(url: string): boolean {
  return /^https?:\/\//i.test(url);
}

export function TeamProfileView(props: ITeamProps): JSX.Element {
  const { client } = useLabdeck();
  const { team } = props;
  const profile = useResource(
    () => unwrap(client.GET('/labdeck/api/teams/{team}/profile', { params: { path: { team } } })),
    [client, team]
  );
  const [editing, setEditing] = useState(false);
  return (
    <Section title="Team profile">
      <Show resource={profile} what="the team's profile">
        {data =>
          editing ? (
            <ProfileForm
              team={team}
              profile={data}
              onDone={fresh => {
                if (fresh) {
                  profile.set(fresh);
                }
                setEditing(false);
              }}
            />
          ) : (
            <>
              {data.intro.trim() ? (
                <Markdown source={data.intro} label={`Introduction of ${team}`} />
              ) : (
                <Empty>No introduction yet.</Empty>
              )}
              {data.links.length > 0 && (
                <ul className="jp-labdeck-links" aria-label="Links">
                  {data.links.map((link, i) => (
                    <li key={i}>
                      {isWebUrl(link.url) ? (
                        <a href={link.url} target="_blank" rel="noopener noreferrer">
                          {link.title}
                        </a>
                      ) : (
                        link.title
                      )}
                    </li>
                  ))}
                </ul>
              )}
              {data.showcased_projects.length > 0 && (
                <p className="jp-labdeck-hint">
                  Showcased projects:{' '}
                  {data.showcased_projects.map(p => `${p.entity}/${p.name}`).join(', ')}
                </p>
              )}
              {data.showcased_reports.length > 0 && (
                <p className="jp-labdeck-hint">
                  Showcased reports: {data.showcased_reports.map(r => r.title).join(', ')}
                </p>
              )}
              <p className="jp-labdeck-hint">
                Visible to {data.visibility === 'public' ? 'everyone signed in' : 'members only'}.
              </p>
              {props.may('manage team settings') && (
                <button
                  type="button"
                  className="jp-Button jp-mod-small jp-labdeck-secondary"
                  onClick={() => setEditing(true)}
                >
                  Edit profile
                </button>
              )}
            </>
          )
        }
      </Show>
    </Section>
  );
}

function ProfileForm(props: {
  team: string;
  profile: TeamProfile;
  onDone: (fresh: TeamProfile | null) => void;
}): JSX.Element {
  const { client } = useLabdeck();
  const { team, profile } = props;
  const [intro, setIntro] = useState(profile.intro);
  const [visibility, setVisibility] = useState<'public' | 'members'>(profile.visibility);
  const [links, setLinks] = useState(profile.links.map(l => ({ ...l })));
  const [showcased, setShowcased] = useState(profile.showcased_projects.map(p => p.name));
  const projects = useResource(
    () =>
      unwrap(client.GET('/labdeck/api/projects/{entity}', { params: { path: { entity: team } } })),
    [client, team]
  );
  const save = useAction();
  const setLink = (i: number, key: 'title' | 'url', value: string) =>
    setLinks(list => list.map((l, j) => (j === i ? { ...l, [key]: value } : l)));
  return (
    <form
      className="jp-labdeck-form"
      aria-label={`Edit the profile of ${team}`}
      onSubmit={e => {
        e.preventDefault();
        void save.run(async () => {
          const body = {
            intro,
            visibility,
            links: links.filter(l => l.title || l.url),
            showcased_projects: showcased
          };
          props.onDone(
            await unwrap(
              client.PATCH('/labdeck/api/teams/{team}/profile', {
                params: { path: { team } },
                body
              })
            )
          );
        });
      }}
    >
      <Field
        label="Introduction (Markdown)"
        name="intro"
        multiline
        value={intro}
        error={save.error}
        onChange={setIntro}
      />
      <Select
        label="Visible to"
        value={visibility}
        options={VISIBILITY}
        onChange={v => setVisibility(v === 'public' ? 'public' : 'members')}
      />
      <fieldset className="jp-labdeck-fieldset">
        <legend>Links</legend>
        {links.map((link, i) => (
          <div className="jp-labdeck-row" key={i}>
            <Field
              label="Title"
              name="links.title"
              value={link.title}
              error={save.error}
              onChange={v => setLink(i, 'title', v)}
            />
            <Field
              label="URL"
              name="links.url"
              value={link.url}
              error={save.error}
              onChange={v => setLink(i, 'url', v)}
            />
          </div>
        ))}
        <button
          type="button"
          className="jp-Button jp-mod-small jp-labdeck-secondary"
          onClick={() => setLinks(list => [...list, { title: '', url: '' }])}
        >
          Add a link
        </button>
      </fieldset>
      <fieldset className="jp-labdeck-fieldset">
        <legend>Showcased projects</legend>
        <Show resource={projects} what="the team's projects">
          {list =>
            list.length === 0 ? (
              <Empty>The team has no project yet.</Empty>
            ) : (
              <>
                {list.map(p => (
                  <Checkbox
                    key={p.name}
                    label={p.name}
                    checked={showcased.includes(p.name)}
                    onChange={on =>
                      setShowcased(s => (on ? [...s, p.name] : s.filter(n => n !== p.name)))
                    }
                  />
                ))}
              </>
            )
          }
        </Show>
      </fieldset>
      <div className="jp-labdeck-row">
        <ActionButton quiet type="submit" action={save} onClick={() => undefined}>
          Save profile
        </ActionButton>
        <button
          type="button"
          className="jp-Button jp-mod-small jp-labdeck-secondary"
          onClick={() => props.onDone(null)}
        >
          Cancel
        </button>
      </div>
    </form>
  );
}
