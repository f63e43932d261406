/**
 * Generic webhook: one `driftwatch.alert.v1` document per POST, signed with HMAC-SHA256 over the
 * exact body bytes (`X-Driftwatch-Signature: sha256=<hex>`); the body carries `sentAt`, equal to
 * `X-Driftwatch-Timestamp`, so a receiver can refuse replays. `Idempotency-Key` (also in the
 * body) is stable across retries: receivers deduplicate on it.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Type } from '@sinclair/typebox';
import { toAlertDocument } from './document.js';
import { JSON_HEADERS, PostEachSink, postEachSinkFields, sinkHttpClient } from './http.js';
import { safeJson } from './json.js';
import { defineSink, type AlertNotification, type SinkConfigOf } from './types.js';

/** The keys of a `webhook` sink. */
const webhookFields = {
  ...postEachSinkFields,
  /** HMAC-SHA256 shared secret, inline … */
  secret: Type.Optional(Type.String({ minLength: 16 })),
  /** … or read from a file (a mounted Secret). */
  secretFile: Type.Optional(Type.String({ minLength: 1 })),
};
export type WebhookSinkConfig = SinkConfigOf<typeof webhookFields>;

export const SIGNATURE_HEADER = 'x-driftwatch-signature';
export const TIMESTAMP_HEADER = 'x-driftwatch-timestamp';
export const IDEMPOTENCY_HEADER = 'idempotency-key';

export function signBody(body: Buffer, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Pure: the exact bytes and headers of one request. */
export function toWebhookRequest(n: AlertNotification, secret: string, nowMs: number): { body: Buffer; headers: Record<string, string> } {
  const body = Buffer.from(safeJson(toAlertDocument(n, nowMs)), 'utf8');
  return {
    body,
    headers: {
      ...JSON_HEADERS,
      [SIGNATURE_HEADER]: signBody(body, secret),
      [TIMESTAMP_HEADER]: String(Math.floor(nowMs / 1000)),
      [IDEMPOTENCY_HEADER]: n.idempotencyKey,
    },
  };
}

export function readSecret(config: WebhookSinkConfig): string {
  if (config.secret !== undefined) return config.secret;
  if (config.secretFile !== undefined) return readFileSync(config.secretFile, 'utf8').trim();
  throw new Error(`sink ${config.name}: secret or secretFile is required`);
}

export const webhookSink = defineSink({
  type: 'webhook',
  fields: webhookFields,
  requireOneOf: [['url'], ['secret', 'secretFile']],
  keepAlive: false,
  create: (config, ctx) => {
    const secret = readSecret(config);
    return new PostEachSink('webhook', config.name, config.url!, sinkHttpClient(config, [secret]), (n) => toWebhookRequest(n, secret, ctx.now()));
  },
});
