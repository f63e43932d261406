/**
 * Opens the configured store: SQLite (embedded, one collector) by default, PostgreSQL
 * (`collector.store.kind: postgres`) for several collector replicas on one database.
 */
import type { Store } from './contract.js';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { PostgresConnectionOptions } from './postgres/database.js';
import { openPostgresStore } from './postgres/store.js';
import { DATABASE_FILE } from './sqlite/database.js';
import { openSqliteStore } from './sqlite/store.js';

export type { Repositories, Store } from './contract.js';
export { redactedUrl } from './postgres/database.js';

/** `collector.store`. */
export interface StoreConfig {
  kind: 'sqlite' | 'postgres';
  url?: string | undefined;
  passwordFile?: string | undefined;
  maxConnections?: number | undefined;
}

export interface StoreOptions {
  /** Directory of the SQLite database; `:memory:` for an in-memory one (tests). */
  dataDir: string;
  /** Which backend; absent = SQLite in `dataDir`. */
  store?: StoreConfig;
  /** Wall clock for token expiry and audit times (tests pass their own). */
  now?: () => number;
}

/** Where the store of `dataDir` lives, and whether it exists yet (opening creates it). */
export function storeLocation(dataDir: string): { path: string; exists: boolean } {
  const path = resolve(dataDir, DATABASE_FILE);
  return { path, exists: existsSync(path) };
}

/** Connection options of a PostgreSQL `collector.store`, or a clear error when it lacks its url. */
export function postgresOptions(store: StoreConfig): PostgresConnectionOptions {
  if (!store.url) throw new Error('collector.store.kind is postgres but collector.store.url is not set (postgres://user@host:5432/database)');
  return { url: store.url, ...(store.passwordFile !== undefined && { passwordFile: store.passwordFile }), ...(store.maxConnections !== undefined && { maxConnections: store.maxConnections }) };
}

export async function openStore(opts: StoreOptions): Promise<Store> {
  const now = opts.now ? { now: opts.now } : {};
  if (opts.store?.kind === 'postgres') return openPostgresStore({ ...postgresOptions(opts.store), ...now });
  return openSqliteStore({ dataDir: opts.dataDir, ...now });
}
