/**
 * A throwaway PostgreSQL cluster for tests: Debian's `initdb` + `pg_ctl` (any version under
 * /usr/lib/postgresql/N/bin), in a temporary directory, listening on a free loopback port and a
 * private unix socket directory; as the `postgres` user when the tests run as root (PostgreSQL
 * refuses to run as root). One cluster per test file (tap runs each file in its own process),
 * one database per `database()` call; stopped (immediate) and removed in teardown.
 *
 * The cluster asks for a password over TCP (scram-sha-256), so every test connects as a user
 * would configure the collector: a url without the password, and `passwordFile`.
 */
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import tap, { type Test } from 'tap';
import type { Store } from '../../collector/store/contract.js';
import type { PostgresConnectionOptions } from '../../collector/store/postgres/database.js';
import { openPostgresStore } from '../../collector/store/postgres/store.js';
import { SqliteStore } from '../../collector/store/sqlite/store.js';

const run = promisify(execFile);
const PASSWORD = 'dw-test-secret-password-7f3a';

export interface PostgresCluster {
  port: number;
  /** The superuser's password (tests that check it is never logged look for it). */
  password: string;
  passwordFile: string;
  /** A new, empty database; connection options as `collector.store` would hold them. */
  database(name?: string): Promise<PostgresConnectionOptions>;
  /** Stops the server at once (as a crash would), keeping its files: `start()` brings it back. */
  kill(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

function binDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], 'bin') : undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

async function ids(user: string): Promise<{ uid: number; gid: number }> {
  const uid = Number((await run('id', ['-u', user])).stdout.trim());
  const gid = Number((await run('id', ['-g', user])).stdout.trim());
  return { uid, gid };
}

let counter = 0;

/**
 * Starts a cluster, or returns why none can be started (no binaries, no postgres user as root, a
 * failing initdb): callers skip their PostgreSQL tests with that reason, visibly.
 */
export async function startPostgres(): Promise<PostgresCluster | { unavailable: string }> {
  const bin = binDir();
  if (!bin) return { unavailable: 'no PostgreSQL server binaries under /usr/lib/postgresql/*/bin (install Debian package postgresql)' };
  const asRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), 'driftwatch-pg-'));
  const data = join(dir, 'data');
  const sockets = join(dir, 'sockets');
  const passwordFile = join(dir, 'password');
  const log = join(dir, 'server.log');
  try {
    writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
    mkdirSync(sockets);
    if (asRoot) {
      const owner = await ids('postgres');
      for (const p of [dir, sockets, passwordFile]) chownSync(p, owner.uid, owner.gid);
      chmodSync(dir, 0o700);
    }
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    return { unavailable: `cannot prepare a PostgreSQL directory: ${(err as Error).message}` };
  }
  const pgCommand = (tool: string, args: string[]) => (asRoot ? run('runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]) : run(join(bin, tool), args));
  try {
    await pgCommand('initdb', ['-D', data, '-U', 'postgres', '--auth-local=trust', '--auth-host=scram-sha-256', `--pwfile=${passwordFile}`, '--locale=C', '--encoding=UTF8', '-N']);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    return { unavailable: `initdb failed: ${(err as Error).message.split('\n')[0]}` };
  }
  const port = await freePort();
  // fsync off keeps the suite fast on a shared disk and survives a killed server (the OS keeps the
  // writes); synchronous_commit stays on: a commit acknowledged must survive kill().
  const options = `-c listen_addresses=127.0.0.1 -p ${port} -k ${sockets} -c fsync=off -c full_page_writes=off -c max_connections=200`;
  const start = async (): Promise<void> => {
    await pgCommand('pg_ctl', ['-D', data, '-l', log, '-o', options, '-w', '-t', '60', 'start']);
  };
  const stopWith = async (mode: 'immediate' | 'fast'): Promise<void> => {
    await pgCommand('pg_ctl', ['-D', data, '-m', mode, '-w', 'stop']).catch(() => undefined);
  };
  try {
    await start();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    return { unavailable: `the PostgreSQL server did not start: ${(err as Error).message.split('\n')[0]}` };
  }
  const url = (db: string): string => `postgres://postgres@127.0.0.1:${port}/${db}`;
  let stopped = false;
  return {
    port,
    password: PASSWORD,
    passwordFile,
    async database(name = `dw_${process.pid}_${++counter}`) {
      const admin = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', password: PASSWORD });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE ${name}`);
      } finally {
        await admin.end();
      }
      return { url: url(name), passwordFile };
    },
    kill: () => stopWith('immediate'),
    start,
    async stop() {
      if (stopped) return;
      stopped = true;
      await stopWith('immediate');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The cluster of this test file, started once, stopped when the file's tests end; undefined
 * (with the reason as a visible comment, once) when no server can be started.
 */
export async function postgresForFile(t: Test): Promise<PostgresCluster | undefined> {
  if (!shared) {
    shared = startPostgres();
    // The root test's teardown: after every test of this file.
    tap.teardown(async () => {
      const cluster = await shared!;
      if (!('unavailable' in cluster)) await cluster.stop();
    });
  }
  const cluster = await shared;
  if ('unavailable' in cluster) {
    unavailableReason = cluster.unavailable;
    if (!noticed) t.comment(`PostgreSQL tests skipped: ${cluster.unavailable}`);
    noticed = true;
    return undefined;
  }
  return cluster;
}

let shared: Promise<PostgresCluster | { unavailable: string }> | undefined;
let noticed = false;
let unavailableReason = '';

export const STORE_BACKENDS = ['sqlite', 'postgres'] as const;
export type StoreBackend = (typeof STORE_BACKENDS)[number];

/**
 * How test `t` opens fresh, empty stores of `backend` (SQLite in memory; PostgreSQL a new database
 * of this file's cluster), or undefined when no PostgreSQL server can be started here: `t` is then
 * marked skipped with the reason.
 */
export async function storeOpener(t: Test, backend: StoreBackend): Promise<(() => Promise<Store>) | undefined> {
  if (backend === 'sqlite') return async () => new SqliteStore({ dataDir: ':memory:' });
  const cluster = await postgresCluster(t);
  return cluster && (async () => openPostgresStore(await cluster.database()));
}

/** This file's cluster, or undefined with `t` marked skipped (the reason visible in the output). */
export async function postgresCluster(t: Test): Promise<PostgresCluster | undefined> {
  const cluster = await postgresForFile(t);
  if (!cluster) t.plan(0, `PostgreSQL tests skipped: ${unavailableReason}`);
  return cluster;
}
