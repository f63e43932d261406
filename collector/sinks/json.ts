import { visibleText } from '../../common/text.js';

/**
 * JSON for receivers that show what they get, maybe in HTML:
 * - every string value has its invisible and reordering characters (bidi overrides, zero-width
 *   and tag characters, Hangul fillers… see common/text.ts) written as visible `\u202e` text, so
 *   Slack, a webhook's dashboard or Alertmanager's UI shows what ran, not what it pretends;
 * - `<`, `>` and `&` are written as `\u003c`, `\u003e`, `\u0026` (Go's encoding/json does the
 *   same by default): the bytes can no longer open a tag or entity anywhere.
 */
const HTML_UNSAFE = /[<>&]/g;

export function safeJson(value: unknown): string {
  return inertJson(JSON.stringify(value, (_key, v: unknown) => (typeof v === 'string' ? visibleText(v) : v)));
}

/** For JSON text another library wrote (string values already as given): outside strings JSON has none of `<>&`. */
export function inertJson(text: string): string {
  return text.replace(HTML_UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
