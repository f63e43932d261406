// driftwatch console: a hash-routed single page. Pages live in pages/*.js and export
// `render(main, ctx)`, returning an optional cleanup function.
import { api, LiveStream, setToken, token } from './api.js';
import { refreshDeclaredBanner } from './declared-banner.js';
import { clear, h } from './dom.js';
import * as overview from './pages/overview.js';
import * as deviations from './pages/deviations.js';
import * as deviation from './pages/deviation.js';
import * as workloads from './pages/workloads.js';
import * as baseline from './pages/baseline.js';
import * as audit from './pages/audit.js';
import * as agents from './pages/agents.js';

const ROUTES = [
  [/^\/overview$/, overview, 'overview'],
  [/^\/deviations$/, deviations, 'deviations'],
  [/^\/deviations\/(\d+)$/, deviation, 'deviations'],
  [/^\/workloads$/, workloads, 'workloads'],
  [/^\/baselines\/(\d+)$/, baseline, 'workloads'],
  [/^\/audit$/, audit, 'audit'],
  [/^\/agents$/, agents, 'agents'],
];

const main = document.getElementById('main');
const listeners = new Set();
let cleanup = null;
let me = null;
let stream = null;

export function toast(message, kind = 'info') {
  const el = document.getElementById('toast');
  const item = h('div', { class: `toast ${kind}`, text: message });
  el.append(item);
  setTimeout(() => item.remove(), 5000);
}

/** Parses the hash: `#/deviations?severity=high` → { path: '/deviations', params }. */
function location_() {
  const raw = location.hash.replace(/^#/, '') || '/overview';
  const [path, qs] = raw.split('?');
  return { path, params: new URLSearchParams(qs ?? '') };
}

/** Replaces the URL's query (filters in the URL) without re-rendering. */
export function setParams(params, { push = false } = {}) {
  const { path } = location_();
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  const url = `#${path}${s ? `?${s}` : ''}`;
  if (push) history.pushState(null, '', url);
  else history.replaceState(null, '', url);
}

function signIn(message) {
  cleanup?.();
  cleanup = null;
  stream?.close();
  stream = null;
  document.getElementById('who').textContent = '';
  document.getElementById('signout').hidden = true;
  document.getElementById('declared-banner').hidden = true;
  const input = h('input', { id: 'token', type: 'password', autocomplete: 'off', spellcheck: 'false', placeholder: 'dw_…', required: true, 'aria-describedby': 'token-help' });
  const error = h('p', { class: 'error', role: 'alert', text: message ?? '' });
  const form = h(
    'form',
    {
      class: 'signin card',
      onsubmit: async (e) => {
        e.preventDefault();
        setToken(input.value.trim());
        try {
          await start();
        } catch (err) {
          setToken(null);
          error.textContent = err.message;
        }
      },
    },
    h('h1', { text: 'Sign in to driftwatch' }),
    h('label', { for: 'token', text: 'API token' }),
    input,
    h('p', { id: 'token-help', class: 'muted', text: 'Create one with: driftwatch token create --name you --role viewer. It is kept in this tab only (sessionStorage).' }),
    error,
    h('button', { type: 'submit', class: 'primary', text: 'Sign in' }),
  );
  clear(main).append(form);
  input.focus();
}

async function start() {
  me = await api('GET', '/me');
  const scope = me.namespaces ? ` · ${me.namespaces.join(', ')}` : '';
  document.getElementById('who').textContent = `${me.name} (${me.role}${scope})`;
  document.getElementById('signout').hidden = false;
  stream?.close();
  stream = new LiveStream(
    (e) => {
      if (e.type === 'resync') return toast('Live updates fell behind: reload the page to catch up.', 'error');
      for (const l of listeners) l(e);
    },
    (state) => {
      const el = document.getElementById('live');
      el.textContent = state;
      el.className = `live state-${state}`;
    },
  );
  await route();
}

async function route() {
  if (!token() || !me) return signIn();
  const { path, params } = location_();
  cleanup?.();
  cleanup = null;
  listeners.clear();
  const found = ROUTES.find(([re]) => re.test(path));
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (found?.[2] === a.dataset.nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  clear(main);
  void refreshDeclaredBanner(document.getElementById('declared-banner'));
  if (!found) {
    main.append(h('h1', { text: 'Not found' }), h('p', {}, h('a', { href: '#/overview', text: 'Back to the overview' })));
    return;
  }
  const [re, page] = found;
  const match = re.exec(path);
  const ctx = {
    me,
    params,
    id: match[1] ? Number(match[1]) : undefined,
    onEvent: (fn) => listeners.add(fn),
    setParams,
    toast,
    navigate: (hash) => {
      location.hash = hash;
    },
  };
  try {
    cleanup = (await page.render(main, ctx)) ?? null;
  } catch (err) {
    if (err.status === 401) return;
    main.append(h('p', { class: 'error', role: 'alert', text: `Could not load this page: ${err.message}` }));
  }
}

window.addEventListener('hashchange', () => void route());
window.addEventListener('dw-unauthenticated', () => {
  setToken(null);
  me = null;
  signIn('Your token is no longer valid: sign in again.');
});
document.getElementById('signout').addEventListener('click', () => {
  setToken(null);
  me = null;
  signIn();
});
document.addEventListener('keydown', (e) => {
  if (e.key === '/' && !(e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement || e.target instanceof HTMLSelectElement)) {
    const search = document.querySelector('[data-search]');
    if (search) {
      e.preventDefault();
      search.focus();
    }
  }
});

if (token()) start().catch(() => signIn());
else signIn();
