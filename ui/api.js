// The API client of the UI: the token lives in sessionStorage (gone when the tab closes) and is
// sent as a bearer header; the live stream authenticates in its first message, never in the URL.

const TOKEN_KEY = 'driftwatch.token';

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export async function api(method, path, body) {
  const headers = { accept: 'application/json' };
  const t = token();
  if (t) headers.authorization = `Bearer ${t}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'omit', cache: 'no-store' });
  const type = res.headers.get('content-type') ?? '';
  const data = type.includes('json') ? await res.json() : await res.text();
  if (!res.ok) {
    if (res.status === 401) window.dispatchEvent(new CustomEvent('dw-unauthenticated'));
    throw new ApiError(res.status, data?.code ?? 'DW_ERR_INTERNAL', data?.message ?? `HTTP ${res.status}`);
  }
  return data;
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** The live stream: reconnects with backoff; `onEvent` gets every event object. */
export class LiveStream {
  constructor(onEvent, onState) {
    this.onEvent = onEvent;
    this.onState = onState;
    this.delay = 500;
    this.closed = false;
    this.connect();
  }

  connect() {
    if (this.closed || !token()) return;
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${proto}//${location.host}/api/v1/stream`, ['driftwatch.v1']);
    this.ws = ws;
    ws.addEventListener('open', () => ws.send(JSON.stringify({ type: 'auth', token: token() })));
    ws.addEventListener('message', (m) => {
      let e;
      try {
        e = JSON.parse(m.data);
      } catch {
        return;
      }
      if (e.type === 'hello') {
        this.delay = 500;
        this.onState('live');
      } else this.onEvent(e);
    });
    ws.addEventListener('close', (ev) => {
      this.onState('offline');
      if (this.closed || ev.code === 4401) return;
      setTimeout(() => this.connect(), this.delay);
      this.delay = Math.min(this.delay * 2, 15000);
    });
  }

  close() {
    this.closed = true;
    this.ws?.close();
  }
}
