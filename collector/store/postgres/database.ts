/**
 * The PostgreSQL connection pool and its migrations. Values come back as the SQLite backend
 * returns them: 64-bit integers and numerics as JS numbers (every id, count and ms time driftwatch
 * stores is far below 2^53), text as text.
 */
import pg from 'pg';
import { readFileSync } from 'node:fs';
import { MIGRATIONS, type Migration } from '../migrations/index.js';
import { postgresDdl } from './dialect.js';

/** How to reach the database: `collector.store` (url, passwordFile, maxConnections). */
export interface PostgresConnectionOptions {
  /** `postgres://user@host:5432/database` — without the password. */
  url: string;
  /** A file holding the password (a mounted Secret); else PGPASSWORD, else none (trust, peer, certificates). */
  passwordFile?: string;
  maxConnections?: number;
}

export interface PostgresOpenOptions extends PostgresConnectionOptions {
  /** Apply migrations up to this version only (tests of upgrades). */
  targetVersion?: number;
  migrations?: readonly Migration[];
}

const INT8_OID = 20;
const NUMERIC_OID = 1700;

/**
 * Advisory lock keys (two-int form: driftwatch's class, then the lock). Session or transaction
 * locks, never rows: they cost nothing while nobody waits and vanish with the holder's connection.
 */
export const LOCK_CLASS = 0x64_77_00_00;
export const LOCKS = {
  /** Held while migrating: replicas that start together migrate once. */
  migrations: 1,
  /** Every write transaction: writers are serialised across replicas, as SQLite's one writer is. */
  writer: 2,
  /** Periodic work (collector/store/postgres/leader.ts). */
  leader: 3,
} as const;

/** The url as it may be logged: user, host, port and database, never a password. */
export function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    u.password = '';
    return u.toString();
  } catch {
    return '(unparsable postgres url)';
  }
}

/** Pool configuration; refuses a password inside the url (it would end up in logs and process listings). */
export function poolConfig(opts: PostgresConnectionOptions): pg.PoolConfig {
  let parsed: URL;
  try {
    parsed = new URL(opts.url);
  } catch {
    throw new Error('collector.store.url is not a valid postgres:// url');
  }
  if (parsed.password) throw new Error('collector.store.url must not hold a password: put it in collector.store.passwordFile or PGPASSWORD');
  const password = opts.passwordFile ? readFileSync(opts.passwordFile, 'utf8').replace(/\r?\n$/, '') : process.env.PGPASSWORD;
  // Not `connectionString`: node-postgres lets the url's (empty) password override the one given.
  const sslmode = parsed.searchParams.get('sslmode');
  return {
    host: parsed.searchParams.get('host') ?? (decodeURIComponent(parsed.hostname) || 'localhost'),
    port: parsed.port ? Number(parsed.port) : 5432,
    ...(parsed.username && { user: decodeURIComponent(parsed.username) }),
    ...(parsed.pathname.length > 1 && { database: decodeURIComponent(parsed.pathname.slice(1)) }),
    // verify-full checks the server certificate and name; require only encrypts (libpq's meaning).
    ...(sslmode === 'verify-full' || sslmode === 'verify-ca' ? { ssl: true } : sslmode === 'require' ? { ssl: { rejectUnauthorized: false } } : {}),
    ...(password !== undefined && { password }),
    max: opts.maxConnections ?? 10,
    // A server that does not answer must surface as an outage, not hang a batch forever.
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
    application_name: 'driftwatch-collector',
    types: {
      getTypeParser: ((oid: number, format?: string) =>
        oid === INT8_OID || oid === NUMERIC_OID ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
    },
  };
}

/** Applies what `migrations` has beyond the database's version, each in its own transaction. */
export async function migrate(pool: pg.Pool, migrations: readonly Migration[] = MIGRATIONS, target?: number): Promise<number> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1, $2)', [LOCK_CLASS, LOCKS.migrations]);
    try {
      await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
      const current = await schemaVersionOf(client);
      const latest = migrations.length ? migrations[migrations.length - 1]!.version : 0;
      if (current > latest) throw new Error(`database schema version ${current} is newer than this driftwatch (${latest}): upgrade driftwatch`);
      for (const m of migrations) {
        if (m.version <= current || (target !== undefined && m.version > target)) continue;
        await client.query('BEGIN');
        try {
          await client.query(postgresDdl(m.up));
          if (m.postgres) await client.query(m.postgres);
          await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, new Date().toISOString()]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK');
          throw new Error(`migration ${m.version} (${m.name}) failed on PostgreSQL: ${(err as Error).message}`, { cause: err });
        }
      }
      return await schemaVersionOf(client);
    } finally {
      await client.query('SELECT pg_advisory_unlock($1, $2)', [LOCK_CLASS, LOCKS.migrations]);
    }
  } finally {
    client.release();
  }
}

async function schemaVersionOf(client: pg.PoolClient): Promise<number> {
  return Number((await client.query<{ v: string | null }>('SELECT MAX(version) AS v FROM schema_migrations')).rows[0]?.v ?? 0);
}
