/**
 * Syslog for SIEMs (Splunk, Elastic, Sentinel, Loki …): RFC 5424 messages over TCP, TLS by default
 * (RFC 5425), octet-counted framing (RFC 6587 §3.4.1: `LEN SP MSG`), so no character an attacker
 * puts in a process argument can end a message early or forge the next one.
 *
 * One message per notification:
 *   `<PRI>1 TIMESTAMP HOSTNAME APP-NAME - MSGID [SD-ID idempotencyKey="…" …] {alert document}`
 * PRI = facility × 8 + the alert's severity; MSGID is the alert kind (deviation, group, health);
 * the structured data carries the fields SIEM rules select on (idempotency key, severity,
 * namespace, workload, status); MSG is the `driftwatch.alert.v1` JSON document, the same as the
 * webhook body, so one parser serves both.
 *
 * Delivery: the outbox retries until a batch is written to a live connection. Plain TCP syslog has
 * no application-level acknowledgement: a receiver that closed its side (stopped, restarted) is
 * noticed before the next write and the batch goes over a new connection; bytes the kernel accepted
 * in the very moment a receiver died cannot be told apart from delivered ones (docs/alerting.md).
 * Receivers deduplicate on the idempotency key.
 */
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { Type } from '@sinclair/typebox';
import { hostPort, oneOf, tlsSchema } from '../../common/config/fields.js';
import type { Severity } from '../../common/deviations.js';
import { parseDuration } from '../../common/duration.js';
import { visibleText } from '../../common/text.js';
import { toAlertDocument } from './document.js';
import { safeJson } from './json.js';
import { isoTime } from './text.js';
import { defineSink, type AlertNotification, type SendVerdict, type Sink, type SinkConfigOf, type SinkContext } from './types.js';

/** RFC 5424 §6.2.1 facility codes. */
export const FACILITIES = {
  kern: 0, user: 1, mail: 2, daemon: 3, auth: 4, syslog: 5, lpr: 6, news: 7, uucp: 8, cron: 9, authpriv: 10, ftp: 11,
  local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21, local6: 22, local7: 23,
} as const;
type Facility = keyof typeof FACILITIES;

/** Alert severity → syslog severity (RFC 5424 §6.2.1); an ended alert is informational. */
const SYSLOG_SEVERITY: Readonly<Record<Severity, number>> = { critical: 2, high: 3, medium: 4, low: 5, info: 6 };
const INFORMATIONAL = 6;

const syslogFields = {
  /** `host:port` of the syslog receiver (RFC 5425's port is 6514). */
  address: Type.Optional(hostPort()),
  /** `tls` (RFC 5425, the default) or `tcp` for a receiver on a trusted network. */
  protocol: Type.Optional(oneOf(['tls', 'tcp'] as const)),
  /** CA, client certificate and key (PEM files); `serverName` to expect another name. */
  tls: Type.Optional(tlsSchema),
  /** RFC 5424 facility (default local0: reserved for local use, so alerts do not mix with the system's own auth logs). */
  facility: Type.Optional(oneOf(Object.keys(FACILITIES) as Facility[])),
  /** APP-NAME of every message (default driftwatch). */
  appName: Type.Optional(Type.String({ minLength: 1, maxLength: 48, pattern: '^[!-~]+$' })),
  /** SD-ID of the structured data: `name@<private enterprise number>` (default driftwatch@32473, RFC 5612's example number: set yours). */
  structuredDataId: Type.Optional(Type.String({ pattern: '^[!-~]{1,32}$' })),
};
/*
 * The type's keys have no schema defaults: defaults would be filled into every sink item, and keys of
 * one type must not appear on another (validateSinks). They are applied here instead.
 */
const DEFAULTS = { protocol: 'tls', facility: 'local0', appName: 'driftwatch', structuredDataId: 'driftwatch@32473' } as const;
export type SyslogSinkConfig = SinkConfigOf<typeof syslogFields>;

export interface SyslogFormat {
  facility: Facility;
  appName: string;
  structuredDataId: string;
  hostname: string;
}

/** RFC 5424 header fields are printable US-ASCII without spaces; anything else becomes `_`. */
function headerField(value: string, max: number): string {
  const v = value.replace(/[^!-~]/g, '_').slice(0, max);
  return v.length ? v : '-';
}

/** SD-PARAM values escape `"`, `\` and `]` (§6.3.3); control characters are written visibly. */
function paramValue(value: string): string {
  return visibleText(value)
    .replace(/["\\\]]/g, (c) => `\\${c}`)
    .replace(/[\u0000-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Pure: one RFC 5424 message (without framing). */
export function toSyslogMessage(n: AlertNotification, f: SyslogFormat): string {
  const severity = n.status === 'resolved' ? INFORMATIONAL : SYSLOG_SEVERITY[n.severity];
  const pri = FACILITIES[f.facility] * 8 + severity;
  const params: [string, string | null | undefined][] = [
    ['idempotencyKey', n.idempotencyKey],
    ['alertKey', n.alertKey],
    ['status', n.status],
    ['reason', n.reason],
    ['severity', n.severity],
    ['cluster', n.cluster],
    ['namespace', n.workload?.namespace],
    ['workload', n.workload ? `${n.workload.kind}/${n.workload.name}` : undefined],
    ['container', n.workload?.container],
    ['url', n.url],
  ];
  const sd = `[${f.structuredDataId}${params
    .filter((p): p is [string, string] => typeof p[1] === 'string' && p[1].length > 0)
    .map(([k, v]) => ` ${k}="${paramValue(v)}"`)
    .join('')}]`;
  const header = `<${pri}>1 ${isoTime(n.decidedAtMs)} ${headerField(f.hostname, 255)} ${headerField(f.appName, 48)} - ${headerField(n.kind, 32)}`;
  return `${header} ${sd} ${safeJson(toAlertDocument(n, n.decidedAtMs))}`;
}

/** RFC 6587 octet counting: the message's length in bytes, a space, the message. */
export function frame(message: string): Buffer {
  const body = Buffer.from(message, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length} `, 'ascii'), body]);
}

class SyslogSink implements Sink {
  readonly type = 'syslog' as const;
  readonly maxBatch = 100;
  private socket: net.Socket | undefined;
  /** The receiver closed its side (or the socket failed): the next send reconnects first. */
  private broken = true;
  private readonly timeoutMs: number;
  private readonly host: string;
  private readonly port: number;
  private readonly format: SyslogFormat;
  private readonly protocol: 'tls' | 'tcp';

  constructor(
    readonly name: string,
    private readonly config: SyslogSinkConfig,
    ctx: SinkContext,
  ) {
    const address = config.address!;
    const colon = address.lastIndexOf(':');
    this.host = address.slice(0, colon).replace(/^\[|\]$/g, '');
    this.port = Number(address.slice(colon + 1));
    this.timeoutMs = parseDuration(config.timeout);
    this.protocol = config.protocol ?? DEFAULTS.protocol;
    this.format = {
      facility: config.facility ?? DEFAULTS.facility,
      appName: config.appName ?? DEFAULTS.appName,
      structuredDataId: config.structuredDataId ?? DEFAULTS.structuredDataId,
      hostname: ctx.hostname,
    };
  }

  async send(batch: readonly AlertNotification[], signal?: AbortSignal): Promise<SendVerdict> {
    const payload = Buffer.concat(batch.map((n) => frame(toSyslogMessage(n, this.format))));
    try {
      const socket = this.broken || !this.socket ? await this.connect(signal) : this.socket;
      await this.write(socket, payload, signal);
      return { result: 'ok' };
    } catch (err) {
      this.drop();
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      const what = code === 'DW_TIMEOUT' ? `timeout after ${this.timeoutMs} ms` : code;
      return { result: 'retry', reason: `syslog ${what} (${this.protocol}://${this.host}:${this.port})` };
    }
  }

  private connect(signal?: AbortSignal): Promise<net.Socket> {
    this.drop();
    const options = { host: this.host, port: this.port };
    const socket =
      this.protocol === 'tls'
        ? tls.connect({
            ...options,
            ca: this.config.tls?.ca ? readFileSync(this.config.tls.ca) : undefined,
            cert: this.config.tls?.cert ? readFileSync(this.config.tls.cert) : undefined,
            key: this.config.tls?.key ? readFileSync(this.config.tls.key) : undefined,
            servername: this.config.tls?.serverName ?? (net.isIP(this.host) ? undefined : this.host),
          })
        : net.connect(options);
    this.socket = socket;
    // A syslog receiver never writes: 'end' means it closed its side, so the next batch reconnects.
    socket.on('data', () => undefined);
    socket.on('end', () => this.markBroken(socket));
    socket.on('close', () => this.markBroken(socket));
    socket.on('error', () => this.markBroken(socket));
    const connected = this.protocol === 'tls' ? 'secureConnect' : 'connect';
    return this.settle<net.Socket>(socket, signal, (ok) =>
      socket.once(connected, () => {
        this.broken = false;
        ok(socket);
      }),
    );
  }

  private write(socket: net.Socket, payload: Buffer, signal?: AbortSignal): Promise<void> {
    return this.settle<void>(socket, signal, (ok, fail) => socket.write(payload, (err) => (err ? fail(err) : ok())));
  }

  /** Runs `begin` and settles with it, or fails on socket error, close, timeout or abort — whichever comes first. */
  private settle<T>(socket: net.Socket, signal: AbortSignal | undefined, begin: (ok: (value: T) => void, fail: (err: Error) => void) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const coded = (code: string): Error => Object.assign(new Error(code), { code });
      const finish = (err: Error | null, value?: T): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        socket.off('error', onError);
        socket.off('close', onClose);
        if (err) reject(err);
        else resolve(value as T);
      };
      const onError = (err: Error): void => finish(err);
      const onClose = (): void => finish(coded('ECONNRESET'));
      const onAbort = (): void => finish(coded('DW_ABORTED'));
      const timer = setTimeout(() => finish(coded('DW_TIMEOUT')), this.timeoutMs);
      socket.once('error', onError);
      socket.once('close', onClose);
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      begin((value) => finish(null, value), (err) => finish(err));
    });
  }

  private markBroken(socket: net.Socket): void {
    if (socket === this.socket) this.broken = true;
  }

  private drop(): void {
    this.socket?.destroy();
    this.socket = undefined;
    this.broken = true;
  }

  async close(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    if (!socket || socket.destroyed) return;
    // Let what was written leave before closing: end() flushes, then the receiver sees a clean close.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        socket.destroy();
        resolve();
      }, this.timeoutMs);
      socket.end(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    socket.destroy();
  }
}

export const syslogSink = defineSink({
  type: 'syslog',
  fields: syslogFields,
  requireOneOf: [['address']],
  keepAlive: false,
  create: (config, ctx) => new SyslogSink(config.name, config, ctx),
});
