// DOM helpers. Every piece of data goes into the page as a text node or an attribute value set
// through the DOM API, never as markup: an argument string like `"><img onerror=…>` stays text.

/**
 * Creates an element. `attrs`: `class`, `text`, `on<event>` (functions), `dataset` (object), any
 * other key is set with setAttribute (values are strings, not markup). Children: nodes, strings
 * (become text nodes), arrays, null/undefined/false (skipped).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'text') el.textContent = String(value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'href') el.setAttribute('href', safeHref(String(value)));
    else el.setAttribute(key, value === true ? '' : String(value));
  }
}

/**
 * Only in-app links: a hash route (`#…`) or a same-origin path (`/…`). Browsers read `\` as `/` and drop tabs and
 * newlines from URLs, so `/\evil.com` or `/<tab>/evil.com` would be `//evil.com`, another site:
 * a path with a backslash or any control character is refused.
 */
export function safeHref(value) {
  if (value.startsWith('#')) return value;
  // eslint-disable-next-line no-control-regex
  return value.startsWith('/') && !value.startsWith('//') && !/[\\\u0000-\u001f\u007f]/.test(value) ? value : '#';
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

/** Replaces an element's content with `children` (same rules as h(): null and false are skipped). */
export function fill(el, ...children) {
  return append(clear(el), children);
}

/**
 * Makes invisible and control characters visible (as \xNN / \uNNNN) so that an attacker cannot
 * hide part of an argument string or fake line breaks in the UI: C0 (newline and tab too — the UI
 * shows values on one line), DEL, C1, U+200B–200F, U+2028/2029 and the bidi controls U+202A–202E,
 * U+2066–2069. The twin of common/text.ts `terminalSafe`; test/ui/dom.test.ts keeps them equal.
 */
export function visible(value) {
  return String(value ?? '').replace(/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

export function fmtTime(ms) {
  if (ms === null || ms === undefined) return '—';
  const d = new Date(typeof ms === 'string' ? Date.parse(ms) : ms);
  if (Number.isNaN(d.getTime())) return '—';
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function fmtAgo(ms) {
  const t = typeof ms === 'string' ? Date.parse(ms) : ms;
  const s = Math.round((Date.now() - t) / 1000);
  if (!Number.isFinite(s)) return '—';
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  if (s < 86400) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}

export function workloadName(w) {
  return `${w.namespace}/${w.name}/${w.container}`;
}

export function badge(kind, value) {
  return h('span', { class: `badge ${kind}-${String(value).replace(/[^a-z-]/g, '')}`, text: value });
}
