/**
 * When SQLite's storage, not a statement, failed: classifying driver errors into
 * `StorageUnavailableError`, and judging whether the volume has room for writes again.
 */
import { statfsSync } from 'node:fs';
import { StorageUnavailableError, type StorageFailure } from '../contract.js';

/** Primary result codes (extended codes carry a suffix, e.g. SQLITE_IOERR_WRITE). */
const FAILURES: readonly (readonly [code: string, failure: StorageFailure, what: string])[] = [
  ['SQLITE_FULL', 'disk-full', 'the database volume is full'],
  ['SQLITE_IOERR', 'io-error', 'the database volume fails to read or write'],
  ['SQLITE_READONLY', 'read-only', 'the database is read-only'],
];

/** The storage failure behind a driver error, or undefined for any other error. */
export function storageFailureOf(err: unknown): StorageUnavailableError | undefined {
  if (err instanceof StorageUnavailableError) return err;
  const code = (err as { code?: unknown } | null | undefined)?.code;
  if (typeof code !== 'string') return undefined;
  for (const [primary, failure, what] of FAILURES) {
    if (code === primary || code.startsWith(`${primary}_`)) return new StorageUnavailableError(failure, code, `${what} (${code}: ${(err as Error).message})`);
  }
  return undefined;
}

/**
 * Free space the volume must have for the store to count as available (at start, and again after
 * a write failed): 64 MiB, or 5 % of a smaller volume. A write that fits into space SQLite already
 * holds (its write-ahead log is reused after a checkpoint) can succeed on a volume with no room at
 * all; resuming on such a success would let ingest fail again at the next batch.
 */
const RESUME_FREE_BYTES = 64 * 1024 * 1024;
const RESUME_FREE_SHARE = 0.05;

/** Why the volume of `dir` has too little room to resume writing, or undefined when it has enough. */
export function roomShortfall(dir: string): string | undefined {
  const fs = statfsSync(dir);
  const free = fs.bavail * fs.bsize;
  const needed = Math.min(RESUME_FREE_BYTES, Math.floor(fs.blocks * fs.bsize * RESUME_FREE_SHARE));
  return free >= needed ? undefined : `${free} bytes free on the database volume, ${needed} needed to resume`;
}
