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

/** What the console calls a request field in its forms (others are shown capitalised). */
const FIELD_LABELS = { comment: 'Reason', q: 'Search', minSeverity: 'Severity', namespace: 'Namespace', workload: 'Workload' };

/** Ajv's rules (as fastify words them) as a person reads them. */
const RULES = [
  [/^must NOT have fewer than (\d+) characters$/, (n) => `at least ${n} characters`],
  [/^must NOT have more than (\d+) characters$/, (n) => `at most ${n} characters`],
  [/^must NOT have fewer than (\d+) items$/, (n) => `at least ${n} entries`],
  [/^must NOT have more than (\d+) items$/, (n) => `at most ${n} entries`],
  [/^must be >= (\S+)$/, (n) => `at least ${n}`],
  [/^must be <= (\S+)$/, (n) => `at most ${n}`],
  [/^must be (integer|number)$/, () => 'a number'],
  [/^must be string$/, () => 'text'],
  [/^must be boolean$/, () => 'yes or no'],
  [/^must match pattern /, () => 'not in the expected form'],
  [/^must be equal to one of the allowed values$/, () => 'not one of the allowed values'],
  [/^must NOT have additional properties$/, () => 'not a field this form has'],
];

function fieldLabel(name) {
  return FIELD_LABELS[name] ?? name.charAt(0).toUpperCase() + name.slice(1);
}

/**
 * A schema error of the API (`body/comment must NOT have fewer than 1 characters`) as a sentence
 * about the field (`Reason: at least 1 characters`); other messages are already sentences.
 */
export function readableError(code, message) {
  if (code !== 'DW_ERR_VALIDATION' || typeof message !== 'string') return message;
  const required = /^(?:body|querystring|params)(?:\/\S*)? must have required property '([^']+)'$/.exec(message);
  if (required) return `${fieldLabel(required[1])}: required`;
  const m = /^(?:body|querystring|params)\/(\S+) (must .+)$/.exec(message);
  if (!m) return message;
  const name = m[1].split('/').filter((p) => !/^\d+$/.test(p)).pop() ?? m[1];
  const rule = RULES.find(([re]) => re.test(m[2]));
  return `${fieldLabel(name)}: ${rule ? rule[1](...m[2].match(rule[0]).slice(1)) : m[2]}`;
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
    const code = data?.code ?? 'DW_ERR_INTERNAL';
    throw new ApiError(res.status, code, readableError(code, data?.message) ?? `HTTP ${res.status}`);
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
