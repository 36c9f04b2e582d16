/**
 * An avatar image read through the API client (so it is fetched with the
 * Jupyter session like every other request), shown from a local blob URL.
 */
import React, { useEffect, useState } from 'react';

export function Avatar(props: {
  load: (() => Promise<Blob>) | null;
  alt: string;
  /** Changes whenever the image may have changed. */
  version: unknown;
}): JSX.Element {
  const [url, setUrl] = useState<string | null>(null);
  const { load } = props;
  useEffect(() => {
    let live = true;
    let made: string | null = null;
    setUrl(null);
    if (load !== null) {
      load().then(
        blob => {
          if (live) {
            made = URL.createObjectURL(blob);
            setUrl(made);
          }
        },
        () => undefined
      );
    }
    return () => {
      live = false;
      if (made !== null) {
        URL.revokeObjectURL(made);
      }
    };
  }, [load, props.version]);
  const initial = props.alt.trim().charAt(0).toUpperCase() || '?';
  return url ? (
    <img className="jp-labdeck-avatar" src={url} alt={props.alt} />
  ) : (
    <span className="jp-labdeck-avatar jp-labdeck-avatar-initial" role="img" aria-label={props.alt}>
      {initial}
    </span>
  );
}
