/**
 * Generic webhook: one `driftwatch.alert.v1` document per POST, signed with HMAC-SHA256 over the
 * exact body bytes (`X-Driftwatch-Signature: sha256=<hex>`); the body carries `sentAt`, equal to
 * `X-Driftwatch-Timestamp`, so a receiver can refuse replays. `Idempotency-Key` (also in the
 * body) is stable across retries: receivers deduplicate on it.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { SinkConfig } from '../../common/config-schema.js';
import { toAlertDocument } from './document.js';
import { JSON_HEADERS, PostEachSink, sinkHttpClient } from './http.js';
import { safeJson } from './json.js';
import type { AlertNotification, SinkDefinition } from './types.js';

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

export function readSecret(config: SinkConfig): string {
  if (config.secret !== undefined) return config.secret;
  if (config.secretFile !== undefined) return readFileSync(config.secretFile, 'utf8').trim();
  throw new Error(`sink ${config.name}: secret or secretFile is required`);
}

export const webhookSink: SinkDefinition = {
  type: 'webhook',
  schema: { requireOneOf: [['url'], ['secret', 'secretFile']], accepts: ['url', 'secret', 'secretFile', 'headers', 'tls', 'timeout'] },
  keepAlive: false,
  create: (config, ctx) => {
    const secret = readSecret(config);
    return new PostEachSink('webhook', config.name, config.url!, sinkHttpClient(config, [secret]), (n) => toWebhookRequest(n, secret, ctx.now()));
  },
};
