/**
 * Attacker-controlled text (process arguments, paths, pod and node names) shown to people: what
 * could hide, reorder or fake part of it becomes a visible escape — `\xNN` below U+0100,
 * `\uNNNN` in the BMP, `\u{NNNNN}` above — so that what an analyst reads is what ran.
 *
 * INVISIBLE, the classes (not a list of examples):
 * - Cc above C0: DEL and C1 (CSI starts escape sequences);
 * - Cf, format characters: bidi controls (U+202A–202E, U+2066–2069, U+061C), zero-width ones
 *   (U+200B–200D, U+2060, U+FEFF), U+00AD, tag characters (U+E0000–E007F), …;
 * - Zl, Zp: U+2028, U+2029 (fake line breaks);
 * - Default_Ignorable_Code_Point: what fonts draw as nothing — Hangul fillers (U+3164, U+115F,
 *   U+1160, U+FFA0), variation selectors (U+FE00–FE0F, U+E0100–E01EF), U+034F, U+180B–180F …;
 * - Zs other than the space: U+00A0, U+2000–200A, U+3000 … look like a space and are not one;
 * - Cs: an unpaired surrogate (a broken string that renders as anything).
 * C0 (newline, tab, ESC) is handled per medium: a terminal or the UI escapes it too; JSON escapes
 * it by itself.
 *
 * ui/dom.js `visible` is the browser's twin of terminalSafe (the UI loads no TypeScript);
 * test/ui/dom.test.ts keeps them equal.
 */
const INVISIBLE_CLASSES = String.raw`\u007f-\u009f\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Default_Ignorable_Code_Point}`;
const INVISIBLE = new RegExp(String.raw`[${INVISIBLE_CLASSES}]|[^\P{Zs} ]`, 'gu');
// eslint-disable-next-line no-control-regex
const UNSAFE = new RegExp(String.raw`[\u0000-\u001f${INVISIBLE_CLASSES}]|[^\P{Zs} ]`, 'gu');

function escapeChar(c: string): string {
  const code = c.codePointAt(0)!;
  if (code < 0x100) return `\\x${code.toString(16).padStart(2, '0')}`;
  return code <= 0xffff ? `\\u${code.toString(16).padStart(4, '0')}` : `\\u{${code.toString(16)}}`;
}

export function terminalSafe(value: unknown, opts: { keepNewlines?: boolean } = {}): string {
  return String(value ?? '').replace(UNSAFE, (c) => (opts.keepNewlines && c === '\n' ? c : escapeChar(c)));
}

/**
 * Only the invisible classes escaped (C0 left as it is): for values that travel in JSON to a
 * receiver that shows them (alert payloads), where C0 is escaped by JSON itself and kept meaning
 * (a description's line breaks).
 */
export function visibleText(value: string): string {
  return value.replace(INVISIBLE, escapeChar);
}

/**
 * JSON for a terminal: JSON.stringify escapes C0 itself; the rest of what terminalSafe escapes
 * becomes `\uNNNN` (a pair of them above the BMP). Those characters only occur inside JSON
 * strings, where the escape decodes to the same value, so the output stays valid JSON with the
 * value intact.
 */
export function terminalSafeJson(value: unknown, space?: number): string {
  return JSON.stringify(value, null, space).replace(INVISIBLE, (c) => [...Array(c.length).keys()].map((i) => `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`).join(''));
}
