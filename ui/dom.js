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
 * Makes invisible, reordering and control characters visible (\xNN, \uNNNN, \u{NNNNN}) so that
 * an attacker cannot hide part of an argument string, reorder it or fake line breaks in the UI:
 * C0 (newline and tab too — the UI shows values on one line), DEL, C1, and the classes Cf (bidi
 * controls, zero-width characters, U+00AD, tags…), Zl, Zp, Default_Ignorable_Code_Point (Hangul
 * fillers, variation selectors…), Zs other than the space, and unpaired surrogates. The twin of
 * common/text.ts `terminalSafe` (where the classes are explained); test/ui/dom.test.ts keeps them
 * equal.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Default_Ignorable_Code_Point}]|[^\P{Zs} ]/gu;

export function visible(value) {
  return String(value ?? '').replace(UNSAFE, (c) => {
    const code = c.codePointAt(0);
    if (code < 0x100) return `\\x${code.toString(16).padStart(2, '0')}`;
    return code <= 0xffff ? `\\u${code.toString(16).padStart(4, '0')}` : `\\u{${code.toString(16)}}`;
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
