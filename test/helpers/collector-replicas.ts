/**
 * Collector replicas as real processes (`driftwatch collector`) on one PostgreSQL database of a
 * test cluster (test/helpers/postgres.ts): plaintext gRPC and HTTP on free loopback ports, the
 * database password from `collector.store.passwordFile`; `collector` adds the keys a user would
 * configure (learning, network ranges, sinks). Killed (SIGKILL) in teardown.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import { stringify } from 'yaml';
import type { PostgresConnectionOptions } from '../../collector/store/postgres/database.js';
import { freePort, spawnCli, type CliProcess } from './processes.js';

export interface CollectorReplica {
  process: CliProcess;
  grpcPort: number;
  httpPort: number;
  /** `driftwatch_collector_leader` as the replica reports it ('1' or '0'). */
  leaderGauge(): Promise<string | undefined>;
}

export async function startCollectorReplica(t: Test, dir: string, name: string, db: PostgresConnectionOptions, collector: Record<string, unknown> = {}): Promise<CollectorReplica> {
  const [grpcPort, httpPort] = [await freePort(), await freePort()];
  const configFile = join(dir, `${name}.yaml`);
  writeFileSync(
    configFile,
    stringify({
      cluster: 'test',
      log: { level: 'info', format: 'json' },
      collector: {
        dataDir: join(dir, name),
        baselinesDir: join(dir, 'baselines'),
        grpc: { listen: `127.0.0.1:${grpcPort}` },
        http: { listen: `127.0.0.1:${httpPort}` },
        store: { kind: 'postgres', ...db },
        ...collector,
      },
    }),
  );
  const process = spawnCli(['collector', '--config', configFile]);
  t.teardown(() => process.stop('SIGKILL'));
  // Started from the TypeScript sources: slow on a loaded machine.
  await process.waitForLog(/collector ready/, 120_000);
  return {
    process,
    grpcPort,
    httpPort,
    leaderGauge: async () => /^driftwatch_collector_leader (\d)/m.exec(await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text())?.[1],
  };
}
