/**
 * A real agent and a real collector, as separate processes, over gRPC with mTLS: the collector is
 * killed (SIGKILL) mid-stream and restarted, and every observation must end up stored exactly once.
 */
import t from 'tap';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { agentCollectorConfig, execEvent, storedCounts } from '../helpers/agent-collector.js';
import { makeTestPki } from '../helpers/certs.js';
import { eventually, freePort, spawnCli } from '../helpers/processes.js';

const TOTAL = 2400;

t.test('agent → collector over mTLS survives a collector kill: every observation stored exactly once', async (t) => {
  const dir = t.testdir();
  const pki = makeTestPki(dir);
  const grpcPort = await freePort();
  const events = join(dir, 'events.jsonl');
  writeFileSync(events, '');
  const dataDir = join(dir, 'data');
  const configFile = join(dir, 'driftwatch.yaml');
  writeFileSync(configFile, stringify(agentCollectorConfig({ dir, pki, grpcPort, events, dataDir })));

  let collector = spawnCli(['collector', '--config', configFile]);
  const agent = spawnCli(['agent', '--config', configFile]);
  t.teardown(async () => {
    await agent.stop('SIGKILL');
    await collector.stop('SIGKILL');
  });
  await collector.waitForLog(/collector ready/);
  await agent.waitForLog(/connected to collector/);

  const lines = Array.from({ length: TOTAL }, (_, i) => execEvent(i));
  appendFileSync(events, lines.slice(0, TOTAL / 2).join('\n') + '\n');
  await eventually(() => storedCounts(dataDir).rows > TOTAL / 8, 'the first observations to be stored');

  // Kill the collector mid-stream (no drain, no flush), keep the agent producing, restart.
  await collector.stop('SIGKILL');
  appendFileSync(events, lines.slice(TOTAL / 2).join('\n') + '\n');
  await new Promise((r) => setTimeout(r, 500));
  collector = spawnCli(['collector', '--config', configFile]);
  await collector.waitForLog(/collector ready/);

  await eventually(() => storedCounts(dataDir).rows >= TOTAL, `all ${TOTAL} observations to be stored`, 60_000);
  await new Promise((r) => setTimeout(r, 500)); // any late duplicate would land now
  const counts = storedCounts(dataDir);
  t.equal(counts.rows, TOTAL, 'no observation stored twice');
  t.equal(counts.distinct, TOTAL, 'no observation lost');

  t.equal(await agent.stop(), 0, 'agent exits cleanly on SIGTERM');
  t.equal(await collector.stop(), 0, 'collector exits cleanly on SIGTERM');
  t.match(agent.stderr(), /resent|reconnect|collector stream lost/i, 'the agent noticed the outage');
});
