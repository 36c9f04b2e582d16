/**
 * Markdown that people typed (a team's intro), rendered by JupyterLab's own
 * Markdown renderer, which sanitizes the HTML it makes (no script, no event
 * handler, no javascript: link). Nothing typed reaches the page any other way.
 */
import { MimeModel } from '@jupyterlab/rendermime';
import React, { useEffect, useRef } from 'react';

import { useLabdeck } from '../context';

const MARKDOWN = 'text/markdown';

export function Markdown(props: { source: string; label: string }): JSX.Element {
  const { rendermime } = useLabdeck();
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const node = host.current;
    if (node === null) {
      return;
    }
    // The renderer's node is placed here by hand, not attached as a Lumino
    // widget: React removes the host before this cleanup runs.
    const renderer = rendermime.createRenderer(MARKDOWN);
    node.appendChild(renderer.node);
    void renderer.renderModel(
      new MimeModel({ data: { [MARKDOWN]: props.source }, trusted: false })
    );
    return () => {
      renderer.node.remove();
      renderer.dispose();
    };
  }, [rendermime, props.source]);
  return <div className="jp-labdeck-markdown" aria-label={props.label} ref={host} />;
}
