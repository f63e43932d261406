import { m001 } from './001-core.js';
import { m002 } from './002-engine.js';
import { m003 } from './003-alerting.js';
import { m004 } from './004-api.js';
import { m005 } from './005-declared-last-good.js';
import { m006 } from './006-storage-probe.js';
import { m007 } from './007-releases.js';
import { m008 } from './008-learning-runs.js';
import { m009 } from './009-alert-updates.js';
import { m010 } from './010-replicas.js';

/** A schema change. Append only: never edit a migration that has been released. */
export interface Migration {
  version: number;
  name: string;
  /**
   * Portable DDL, written in SQLite's type names (INTEGER, REAL, TEXT, `INTEGER PRIMARY KEY` for an
   * assigned id): SQLite runs it as written, PostgreSQL after `postgresDdl` (postgres/dialect.ts)
   * maps the types to ones of the same range (BIGINT, DOUBLE PRECISION, an identity column).
   */
  up: string;
  /** Statements only SQLite runs, after `up` in the same transaction (e.g. an FTS5 table). */
  sqlite?: string;
  /** Statements only PostgreSQL runs, as written, after `up` in the same transaction (e.g. tsvector, GIN). */
  postgres?: string;
}

export const MIGRATIONS: readonly Migration[] = [m001, m002, m003, m004, m005, m006, m007, m008, m009, m010];
