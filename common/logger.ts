import winston from 'winston';
import { redactUrlsIn } from './redact.js';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export type LogFormat = 'auto' | 'json' | 'text';

export type Logger = winston.Logger;

/**
 * Credentials in URLs never reach a log line, whoever logs them (an error message of a library may
 * quote the URL it failed on): the message and every string field have them replaced.
 */
const redactUrls = winston.format((info) => {
  for (const key of Object.keys(info)) {
    const v = info[key];
    if (typeof v === 'string') info[key] = redactUrlsIn(v);
  }
  return info;
});

/**
 * JSON lines by default (what log pipelines ingest), readable text on a TTY. Hot paths must not
 * log per event: they count, and the counters are logged/exported periodically.
 */
export function createLogger(opts: { level?: LogLevel; format?: LogFormat; component?: string; stream?: NodeJS.WritableStream } = {}): Logger {
  const stream = opts.stream ?? process.stderr;
  const format = opts.format ?? 'auto';
  const text = format === 'text' || (format === 'auto' && (stream as NodeJS.WriteStream).isTTY === true);
  return winston.createLogger({
    level: opts.level ?? 'info',
    defaultMeta: opts.component ? { component: opts.component } : undefined,
    format: text
      ? winston.format.combine(
          redactUrls(),
          winston.format.timestamp({ format: 'HH:mm:ss.SSS' }),
          winston.format.printf((info) => {
            const { level, message, timestamp, component, ...rest } = info;
            const extra = Object.keys(rest).length ? ' ' + JSON.stringify(rest) : '';
            return `${String(timestamp)} ${level.padEnd(5)} ${component ? `[${String(component)}] ` : ''}${String(message)}${extra}`;
          }),
        )
      : winston.format.combine(redactUrls(), winston.format.timestamp(), winston.format.json()),
    transports: [new winston.transports.Stream({ stream })],
  });
}

/** A logger that drops everything: for tests and benchmarks. */
export function silentLogger(): Logger {
  return winston.createLogger({ silent: true, transports: [new winston.transports.Console({ silent: true })] });
}
