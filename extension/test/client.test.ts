import { describe, expect, it } from 'vitest';

import { makeClient, rawBody, unwrap } from '../src/api/client';
import { ApiError } from '../src/api/errors';

/** A fetch that records each request and answers from a table. */
function fakeServer(answer: (request: Request) => Response) {
  const seen: Request[] = [];
  const fetch = async (request: Request) => {
    seen.push(request.clone());
    return answer(request);
  };
  return { seen, fetch };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json', ...headers }
  });

describe('the API client', () => {
  it('sends to the server base URL with path parameters encoded', async () => {
    const server = fakeServer(() => json(200, { team: 'a b', actions: [] }));
    const client = makeClient('http://lab.test/user/x/', server.fetch);
    const answer = await unwrap(
      client.GET('/labdeck/api/teams/{team}/permissions', { params: { path: { team: 'a b' } } })
    );
    expect(answer.team).toBe('a b');
    expect(server.seen[0].url).toBe('http://lab.test/user/x/labdeck/api/teams/a%20b/permissions');
    expect(server.seen[0].method).toBe('GET');
  });

  it('sends JSON bodies and query parameters', async () => {
    const server = fakeServer(() => json(201, { id: 1, address: 'a@b.org' }));
    const client = makeClient('http://lab.test/', server.fetch);
    await unwrap(client.POST('/labdeck/api/me/emails', { body: { address: 'a@b.org' } }));
    expect(server.seen[0].method).toBe('POST');
    expect(await server.seen[0].json()).toEqual({ address: 'a@b.org' });

    await unwrap(
      client.GET('/labdeck/api/runs/{run_id}/metrics', {
        params: { path: { run_id: 'r1' }, query: { max_points: 800 } }
      })
    );
    expect(server.seen[1].url).toBe('http://lab.test/labdeck/api/runs/r1/metrics?max_points=800');
  });

  it('sends raw bytes as they are (an image upload)', async () => {
    const server = fakeServer(() => json(200, { username: 'u' }));
    const client = makeClient('http://lab.test/', server.fetch);
    const image = new Blob([new Uint8Array([137, 80, 78, 71])]);
    await unwrap(
      client.PUT('/labdeck/api/me/avatar', {
        body: image as unknown as string,
        bodySerializer: rawBody,
        headers: { 'Content-Type': 'application/octet-stream' }
      })
    );
    const sent = new Uint8Array(await server.seen[0].arrayBuffer());
    expect(Array.from(sent)).toEqual([137, 80, 78, 71]);
    expect(server.seen[0].headers.get('Content-Type')).toBe('application/octet-stream');
  });

  it('throws the server refusal as an ApiError with its message', async () => {
    const server = fakeServer(() =>
      json(409, {
        error: 'conflict',
        message: 'alice is the last admin of acme; make someone else admin first'
      })
    );
    const client = makeClient('http://lab.test/', server.fetch);
    const call = unwrap(
      client.PATCH('/labdeck/api/teams/{team}/members/{username}', {
        params: { path: { team: 'acme', username: 'alice' } },
        body: { role: 'member' }
      })
    );
    await expect(call).rejects.toBeInstanceOf(ApiError);
    await expect(call).rejects.toMatchObject({
      status: 409,
      kind: 'conflict',
      message: 'alice is the last admin of acme; make someone else admin first'
    });
  });

  it('answers undefined for 204 and keeps Retry-After of a 503', async () => {
    let status = 204;
    const server = fakeServer(() =>
      status === 204
        ? new Response(null, { status: 204 })
        : json(503, { error: 'unavailable', message: 'busy' }, { 'Retry-After': '5' })
    );
    const client = makeClient('http://lab.test/', server.fetch);
    expect(await unwrap(client.DELETE('/labdeck/api/me/avatar'))).toBeUndefined();
    status = 503;
    await expect(unwrap(client.GET('/labdeck/api/me'))).rejects.toMatchObject({
      status: 503,
      retryAfter: 5
    });
  });
});
