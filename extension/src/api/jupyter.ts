/**
 * The API client as the panel uses it: through Jupyter's own connection, so
 * requests carry the browser session (or the page's token) and the XSRF
 * header that jupyter_server requires of writes. No API key is involved.
 */
import { ServerConnection } from '@jupyterlab/services';

import { Client, makeClient } from './client';

export function jupyterClient(
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Client {
  return makeClient(settings.baseUrl, async (request: Request) => {
    const body =
      request.method === 'GET' || request.method === 'HEAD'
        ? undefined
        : await request.arrayBuffer();
    return ServerConnection.makeRequest(
      request.url,
      { method: request.method, headers: request.headers, body, cache: 'no-store' },
      settings
    );
  });
}

/** A URL of the API for the browser to open itself (an image, a download). */
export function apiUrl(path: string): string {
  const base = ServerConnection.makeSettings().baseUrl.replace(/\/+$/, '');
  return `${base}/labdeck/api${path}`;
}
