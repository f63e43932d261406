/**
 * JSON for receivers that may render what they get in HTML: `<`, `>` and `&` are written as
 * `\u003c`, `\u003e`, `\u0026` (Go's encoding/json does the same by default), U+2028/2029 too.
 * The parsed value is unchanged; the bytes can no longer open a tag or entity anywhere.
 */
const UNSAFE = /[<>&\u2028\u2029]/g;

export function safeJson(value: unknown): string {
  return inertJson(JSON.stringify(value));
}

/** The same for JSON text another library wrote: outside strings JSON has none of these characters. */
export function inertJson(text: string): string {
  return text.replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
