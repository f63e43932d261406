/**
 * Opens the configured store. SQLite (embedded, one collector) is the default.
 */
import type { Store } from './contract.js';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { DATABASE_FILE } from './sqlite/database.js';
import { openSqliteStore } from './sqlite/store.js';

export type { Repositories, Store } from './contract.js';

export interface StoreOptions {
  /** Directory of the SQLite database; `:memory:` for an in-memory one (tests). */
  dataDir: string;
  /** Wall clock for token expiry and audit times (tests pass their own). */
  now?: () => number;
}

/** Where the store of `dataDir` lives, and whether it exists yet (opening creates it). */
export function storeLocation(dataDir: string): { path: string; exists: boolean } {
  const path = resolve(dataDir, DATABASE_FILE);
  return { path, exists: existsSync(path) };
}

export function openStore(opts: StoreOptions): Store {
  return openSqliteStore(opts);
}
