/**
 * What the server said when it refused, in words a person can act on.
 *
 * The server answers every refusal as `{"error", "message", "field"?}`
 * (docs/api.md, "Errors"); the panel shows that message next to the control that
 * asked, unchanged: the server, not the panel, knows why.
 */

/** A refusal or failure of one API call. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly kind: string,
    message: string,
    readonly field?: string,
    readonly retryAfter?: number
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

interface IErrorBody {
  error?: unknown;
  message?: unknown;
  field?: unknown;
}

/** The `ApiError` of a non-2xx answer, from its JSON body when it has one. */
export function apiError(status: number, body: unknown, headers?: Headers): ApiError {
  const parsed: IErrorBody = body !== null && typeof body === 'object' ? (body as IErrorBody) : {};
  const kind = typeof parsed.error === 'string' ? parsed.error : 'error';
  const field = typeof parsed.field === 'string' ? parsed.field : undefined;
  const retry = Number(headers?.get('Retry-After') ?? NaN);
  const retryAfter = Number.isFinite(retry) && retry >= 0 ? retry : undefined;
  let message: string;
  if (typeof parsed.message === 'string' && parsed.message.trim()) {
    message = parsed.message;
  } else if (typeof body === 'string' && body.trim() && body.length < 300) {
    message = body.trim();
  } else {
    message = `The server answered ${status}${statusText(status)}.`;
  }
  return new ApiError(status, kind, message, field, retryAfter);
}

function statusText(status: number): string {
  const texts: Record<number, string> = {
    401: ' (not signed in)',
    403: ' (not allowed)',
    404: ' (not found)',
    500: ' (server error)',
    502: ' (bad gateway)',
    503: ' (unavailable)'
  };
  return texts[status] ?? '';
}

/**
 * The text to show for anything an API call threw: the server's message, with
 * when to try again if it said so (503 + Retry-After), or a plain sentence
 * for a network failure.
 */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.retryAfter !== undefined) {
      return `${error.message} Try again in ${error.retryAfter} s.`;
    }
    return error.message;
  }
  if (error instanceof TypeError || (error instanceof Error && error.name === 'NetworkError')) {
    return 'The Jupyter server cannot be reached. Check that it is still running.';
  }
  if (error instanceof Error && error.message) {
    return error.message;
  }
  return 'Something went wrong.';
}

/** The field an error names (422), to mark that input invalid. */
export function errorField(error: unknown): string | undefined {
  return error instanceof ApiError ? error.field : undefined;
}
