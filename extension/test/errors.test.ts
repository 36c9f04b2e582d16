import { describe, expect, it } from 'vitest';

import { ApiError, apiError, errorField, errorMessage } from '../src/api/errors';

describe('apiError', () => {
  it('keeps the server message, kind and field of a refusal', () => {
    const err = apiError(422, {
      error: 'invalid',
      message: 'website must be http(s)',
      field: 'website'
    });
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(422);
    expect(err.kind).toBe('invalid');
    expect(err.field).toBe('website');
    expect(errorMessage(err)).toBe('website must be http(s)');
    expect(errorField(err)).toBe('website');
  });

  it('says when to retry a busy server (503 + Retry-After)', () => {
    const headers = new Headers({ 'Retry-After': '3' });
    const err = apiError(503, { error: 'unavailable', message: 'The database is busy.' }, headers);
    expect(err.retryAfter).toBe(3);
    expect(errorMessage(err)).toBe('The database is busy. Try again in 3 s.');
  });

  it('falls back to a sentence when the body is not the error shape', () => {
    expect(errorMessage(apiError(502, null))).toBe('The server answered 502 (bad gateway).');
    expect(errorMessage(apiError(500, { unexpected: true }))).toBe(
      'The server answered 500 (server error).'
    );
    expect(errorMessage(apiError(404, 'no such thing'))).toBe('no such thing');
    expect(apiError(400, { error: 42, message: '' }).kind).toBe('error');
  });

  it('turns a network failure into a plain sentence', () => {
    expect(errorMessage(new TypeError('Failed to fetch'))).toMatch(/cannot be reached/);
    const jupyterNetwork = new Error('x');
    jupyterNetwork.name = 'NetworkError';
    expect(errorMessage(jupyterNetwork)).toMatch(/cannot be reached/);
    expect(errorMessage('weird')).toBe('Something went wrong.');
    expect(errorField(new Error('no field'))).toBeUndefined();
  });
});
