/**
 * Opens the configured store. SQLite (embedded, one collector) is the default.
 */
import type { Store } from './contract.js';
import { openSqliteStore } from './sqlite/store.js';

export type { Repositories, Store } from './contract.js';

export interface StoreOptions {
  /** Directory of the SQLite database; `:memory:` for an in-memory one (tests). */
  dataDir: string;
  /** Wall clock for token expiry and audit times (tests pass their own). */
  now?: () => number;
}

export function openStore(opts: StoreOptions): Store {
  return openSqliteStore(opts);
}
