import { m001 } from './001-core.js';
import { m002 } from './002-engine.js';
import { m003 } from './003-alerting.js';
import { m004 } from './004-api.js';
import { m005 } from './005-declared-last-good.js';
import { m006 } from './006-storage-probe.js';
import { m007 } from './007-releases.js';

/** A schema change. Append only: never edit a migration that has been released. */
export interface Migration {
  version: number;
  name: string;
  /** Portable DDL (SQLite and PostgreSQL both accept it). */
  up: string;
}

export const MIGRATIONS: readonly Migration[] = [m001, m002, m003, m004, m005, m006, m007];
