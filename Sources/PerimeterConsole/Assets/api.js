// The admin API, as the signed-in session. The session cookie rides along by itself (same origin);
// every write carries the session's CSRF token. Nothing here ever puts a token in a URL.

let csrfToken = null;
let onSignedOut = () => {};

export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function setSession(session) {
  csrfToken = session ? session.csrf_token : null;
}

export function whenSignedOut(handler) {
  onSignedOut = handler;
}

export async function api(method, path, body) {
  const headers = { accept: 'application/json' };
  if (method !== 'GET') headers['x-csrf-token'] = csrfToken || '';
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response;
  try {
    response = await fetch('/admin/v1' + path, {
      method, headers, credentials: 'same-origin', cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new ApiError(0, 'The gateway did not answer: ' + error.message);
  }
  if (response.status === 204) return null;
  let payload = null;
  try { payload = await response.json(); } catch { payload = null; }
  if (!response.ok) {
    const error = payload && payload.error ? payload.error : {};
    if (response.status === 401 && path !== '/session') onSignedOut();
    throw new ApiError(response.status, error.message || `The gateway answered ${response.status}.`, error.code);
  }
  return payload;
}

export const get = (path) => api('GET', path);

/// A query string from an object, leaving out empty values.
export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(name, value);
  }
  // URLSearchParams writes a space as '+', which the gateway reads literally (RFC 3986): %20 instead.
  // A '+' in a value is already %2B, so this changes only spaces.
  const text = search.toString().replaceAll('+', '%20');
  return text ? '?' + text : '';
}
