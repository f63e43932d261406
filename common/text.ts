/**
 * Attacker-controlled text (process arguments, paths, pod names) printed to a terminal: control
 * characters (C0, DEL, C1 — escape sequences start with ESC or CSI), line and paragraph separators,
 * zero-width characters and the bidirectional controls that reorder what is shown become visible
 * `\xNN` / `\uNNNN` escapes, so a process argument cannot move the cursor, recolour, retitle the
 * window, fake a line break or hide text. ui/dom.js `visible` is the browser's twin (the UI loads
 * no TypeScript).
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

export function terminalSafe(value: unknown, opts: { keepNewlines?: boolean } = {}): string {
  return String(value ?? '').replace(UNSAFE, (c) => {
    if (opts.keepNewlines && c === '\n') return c;
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** What JSON.stringify leaves raw but a terminal interprets: DEL, C1, zero-width, separators, bidi. */
const UNSAFE_IN_JSON = /[\u007f-\u009f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * JSON for a terminal: JSON.stringify escapes C0 itself; the rest of what terminalSafe escapes
 * becomes `\uNNNN`. Those characters only occur inside JSON strings, where the escape decodes to
 * the same value, so the output stays valid JSON with the value intact.
 */
export function terminalSafeJson(value: unknown, space?: number): string {
  return JSON.stringify(value, null, space).replace(UNSAFE_IN_JSON, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
