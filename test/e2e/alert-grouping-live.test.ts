/**
 * Grouping in event time, end to end: the alert scenario (test/helpers/alert-story.ts) through
 * `driftwatch replay` (alerting on event time, as live) and through a real agent and collector
 * reading the recording flat out — thousands of times faster than it happened, on the wall clock —
 * gives the same alerts with the same members.
 */
import t from 'tap';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { grouping, recording, replayToFile } from '../helpers/alert-story.js';
import { readAlertFile } from '../helpers/alerting.js';
import { eventually, freePort, spawnCli } from '../helpers/processes.js';

// Two processes start and read 80 minutes of events; on a loaded machine that takes minutes.
t.setTimeout(400_000);

t.test('the same recording through replay and through real processes at full speed: the same alerts', async (t) => {
  const dir = t.testdir({ baselines: {} });
  const events = join(dir, 'events.jsonl');
  writeFileSync(events, recording().jsonl);
  const replayed = await replayToFile(dir, events);
  t.equal(replayed.code, 0, replayed.err);
  const docs = replayed.docs;
  const live = join(dir, 'live');
  mkdirSync(live);
  const liveAlerts = join(live, 'alerts.jsonl');
  const grpcPort = await freePort();
  const liveConfig = join(live, 'driftwatch.yaml');
  writeFileSync(
    liveConfig,
    stringify({
      cluster: 'demo',
      log: { level: 'info', format: 'json' },
      collector: {
        dataDir: join(live, 'data'),
        baselinesDir: join(dir, 'baselines'),
        grpc: { listen: `127.0.0.1:${grpcPort}` },
        http: { listen: '127.0.0.1:0' },
        learning: { window: '30m' },
        // Updates only say sooner what the replay's last versions say: grouping does not depend on it.
        alerting: { updateInterval: '1s', sinks: [{ name: 'file', type: 'file', path: liveAlerts }] },
      },
      agent: { node: 'node-a', collector: { address: `127.0.0.1:${grpcPort}` }, sources: [{ kind: 'tetragon-json', address: events }], http: { listen: '127.0.0.1:0' }, kubernetes: { mode: 'off' } },
    }),
  );
  const collector = spawnCli(['collector', '--config', liveConfig]);
  let agent: ReturnType<typeof spawnCli> | undefined;
  t.teardown(async () => {
    await agent?.stop('SIGKILL');
    await collector.stop('SIGKILL');
  });
  await collector.waitForLog(/collector ready/, 120_000);
  agent = spawnCli(['agent', '--config', liveConfig]);
  const expected = grouping(docs);
  // Done when every alert says what the replay's said (updates follow within the update interval).
  await eventually(() => grouping(readAlertFile(liveAlerts)).join('\n') === expected.join('\n'), 'the same alerts as the replay', 300_000).catch(() => undefined);
  t.same(grouping(readAlertFile(liveAlerts)), expected, 'same alerts, same members');
  t.equal(await agent.stop(), 0);
  t.equal(await collector.stop(), 0);
});
