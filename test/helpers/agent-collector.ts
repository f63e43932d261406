/**
 * A real agent and a real collector as separate processes (test/e2e, test/faults): Tetragon
 * events the agent's JSON file source follows, one configuration for both over mTLS, and the
 * observations the collector stored, counted in its database.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import type { TestPki } from './certs.js';

/** Workloads the events spread over (svc-0 … svc-23 in namespace shop). */
export const EVENT_WORKLOADS = 24;

/** A Tetragon process_exec in protojson, every one a distinct item so edge de-duplication keeps it. */
export function execEvent(i: number, binary = `/usr/local/bin/tool-${i}`): string {
  const w = i % EVENT_WORKLOADS;
  const t0 = Date.parse('2026-11-30T10:00:00Z') + i * 10;
  return JSON.stringify({
    process_exec: {
      process: {
        exec_id: Buffer.from(`node-a:${1000 + i}:${i}`).toString('base64'),
        pid: 1000 + i,
        uid: 1000,
        cwd: '/',
        binary,
        arguments: `--run ${i}`,
        flags: 'execve clone',
        start_time: new Date(t0).toISOString(),
        pod: {
          namespace: 'shop',
          name: `svc-${w}-7d4b9c8f6d-abcde`,
          container: {
            id: `containerd://${w.toString(16).padStart(64, 'a')}`,
            name: 'main',
            image: { id: `docker.io/shop/svc@sha256:${'1'.repeat(64)}`, name: 'docker.io/shop/svc:1.0' },
            start_time: '2026-11-30T09:00:00Z',
            pid: 1,
          },
          workload: `svc-${w}`,
          workload_kind: 'Deployment',
        },
        docker: w.toString(16).padStart(31, 'a'),
        parent_exec_id: Buffer.from(`node-a:1:1`).toString('base64'),
      },
      parent: { exec_id: Buffer.from(`node-a:1:1`).toString('base64'), pid: 1, binary: '/usr/bin/containerd-shim-runc-v2', flags: 'execve' },
    },
    node_name: 'node-a',
    time: new Date(t0).toISOString(),
  });
}

/** Stored observation rows, and how many distinct exec ids they are (equal: none stored twice). */
export const STORED_COUNTS_SQL = `SELECT COUNT(*) AS rows, COUNT(DISTINCT json_extract(data, '$.process.execId')) AS "distinct" FROM observations`;

export function storedCounts(dataDir: string): { rows: number; distinct: number } {
  const db = new Database(join(dataDir, 'driftwatch.db'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare(STORED_COUNTS_SQL).get() as { rows: number; distinct: number };
  } catch {
    return { rows: 0, distinct: 0 };
  } finally {
    db.close();
  }
}

/**
 * One configuration file for both processes: collector on `grpcPort` with the test PKI, the agent
 * of node-a following `events` (Tetragon JSON lines), small fast batches; `collector` adds keys.
 */
export function agentCollectorConfig(o: { dir: string; pki: TestPki; grpcPort: number; events: string; dataDir: string; collector?: Record<string, unknown> }): Record<string, unknown> {
  return {
    cluster: 'test',
    log: { level: 'info', format: 'json' },
    collector: {
      dataDir: o.dataDir,
      baselinesDir: join(o.dir, 'baselines'),
      grpc: { listen: `127.0.0.1:${o.grpcPort}`, tls: { ca: o.pki.ca, cert: o.pki.serverCert, key: o.pki.serverKey } },
      http: { listen: '127.0.0.1:0' },
      learning: { maxItemsPerBaseline: 10000 },
      ...o.collector,
    },
    agent: {
      node: 'node-a',
      collector: { address: `localhost:${o.grpcPort}`, tls: { ca: o.pki.ca, cert: o.pki.clientCert, key: o.pki.clientKey } },
      sources: [{ kind: 'tetragon-json', address: o.events, follow: true }],
      http: { listen: '127.0.0.1:0' },
      ship: { batchSize: 50, flushInterval: '20ms', countersInterval: '1s' },
    },
  };
}
