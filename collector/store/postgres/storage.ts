/**
 * When PostgreSQL's storage or server, not a statement, failed: driver and server errors that
 * become `StorageUnavailableError` (as SQLite's SQLITE_FULL / IOERR / READONLY do). A constraint
 * violation or a syntax error stays what it is: a bug or bad input, not an outage.
 */
import { StorageUnavailableError, type StorageFailure } from '../contract.js';

/** SQLSTATE codes (https://www.postgresql.org/docs/current/errcodes-appendix.html) by prefix. */
const SQLSTATES: readonly (readonly [prefix: string, failure: StorageFailure, what: string])[] = [
  ['53100', 'disk-full', 'the database server has no room left on its volume'],
  ['53', 'io-error', 'the database server is out of resources'],
  ['58', 'io-error', 'the database server fails to read or write'],
  ['25006', 'read-only', 'the database is read-only (a standby, or default_transaction_read_only)'],
  ['08', 'unreachable', 'the connection to the database server failed'],
  ['57P', 'unreachable', 'the database server is shutting down or starting'],
];

/** Socket-level errors of the driver (no SQLSTATE). */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOENT']);
/** node-postgres reports a lost connection and a pool that cannot connect in time by message only. */
const DRIVER_MESSAGES = [/^Connection terminated/, /^timeout exceeded when trying to connect/, /^Client has encountered a connection error/, /Client was closed/];

/** The storage failure behind a driver error, or undefined for any other error. */
export function storageFailureOf(err: unknown): StorageUnavailableError | undefined {
  if (err instanceof StorageUnavailableError) return err;
  if (!(err instanceof Error)) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    for (const [prefix, failure, what] of SQLSTATES) {
      if (code.startsWith(prefix)) return new StorageUnavailableError(failure, code, `${what} (${code}: ${err.message})`);
    }
    if (SOCKET_CODES.has(code)) return new StorageUnavailableError('unreachable', code, `the database server cannot be reached (${code}: ${err.message})`);
  }
  if (DRIVER_MESSAGES.some((m) => m.test(err.message))) return new StorageUnavailableError('unreachable', 'CONNECTION', `the database server cannot be reached (${err.message})`);
  return undefined;
}
