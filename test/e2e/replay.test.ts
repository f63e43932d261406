import { readFileSync, writeFileSync } from 'node:fs';
import t from 'tap';
import { loadConfig } from '../../cli/config.js';
import { packagePath } from '../../common/paths.js';
import { EXPECTED_DEVIATIONS, Replay, SCENARIO_COLLECTOR, CLUSTER, deviationKey, expectedKeys, generateScenario, interleave, scenarioJsonl, type TetragonJson } from '../helpers/scenario.js';

const RECORDING = packagePath('demo', 'recording', 'cluster.jsonl');

if (process.env.DW_UPDATE_RECORDING === '1') writeFileSync(RECORDING, scenarioJsonl());

function recording(): TetragonJson[] {
  return readFileSync(RECORDING, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as TetragonJson);
}

async function run(events: readonly TetragonJson[]): Promise<{ open: string[]; items: string[]; replay: Replay }> {
  const replay = new Replay();
  await replay.start();
  await replay.feed(events);
  const open = (await replay.deviations())
    .filter((d) => d.status === 'open')
    .map(deviationKey);
  const items = replay.store.connection
    .all<{ w: string; k: string; p: string }>(
      `SELECT w.namespace || '/' || w.name || '/' || w.container AS w, i.item_key AS k, i.phase AS p
       FROM baseline_items i JOIN baselines b ON b.id = i.baseline_id JOIN workloads w ON w.id = b.workload_id ORDER BY 1, 2`,
    )
    .map((r) => `${r.w} ${r.k} ${r.p}`);
  return { open, items, replay };
}

t.test('the committed recording is the generated scenario (deterministic, small)', async (t) => {
  const text = readFileSync(RECORDING, 'utf8');
  t.equal(text, scenarioJsonl(), 'regenerate with DW_UPDATE_RECORDING=1 npx tap test/e2e/replay.test.ts');
  t.ok(Buffer.byteLength(text) < 2 * 1024 * 1024, 'under 2 MB');
  const kinds = new Set(recording().map((e) => Object.keys(e).find((k) => k.startsWith('process_'))));
  t.same([...kinds].sort(), ['process_exec', 'process_exit', 'process_kprobe']);
});

/** Every key path of a JSON value, arrays collapsed (`process_kprobe.args[].sock_arg.daddr`). */
function keyPaths(value: unknown, prefix = '', out = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const v of value) keyPaths(v, `${prefix}[]`, out);
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const path = prefix ? `${prefix}.${k}` : k;
      out.add(path);
      // Parent and process objects have the same shape: compare them as one.
      keyPaths(v, path.replace(/\.(parent|process)$/, '.process'), out);
    }
  }
  return out;
}

t.test('the recording has the shape of the real Tetragon events', async (t) => {
  const real = new Set<string>();
  for (const name of ['process_exec.json', 'process_exit.json', 'process_kprobe_tcp.json', 'k8s_workload_exec_exit.json']) {
    for (const line of readFileSync(packagePath('..', 'shared', 'fixtures', 'tetragon', name), 'utf8').split('\n')) if (line.trim()) keyPaths(JSON.parse(line), '', real);
  }
  // In the proto and the fact sheet (1.5, 1.9) but absent from the public samples.
  const documented = [/\.process\.in_init_tree$/, /^process_kprobe\.return\.sock_arg(\.|$)/];
  const unknown = [...new Set(recording().flatMap((e) => [...keyPaths(e)]))].filter((p) => !real.has(p) && !documented.some((re) => re.test(p)));
  t.same(unknown, [], 'every field the generator writes exists in the recorded fixtures');
});

t.test('demo/recording/driftwatch.yaml holds the settings the recording is made for', async (t) => {
  const config = loadConfig({ file: packagePath('demo', 'recording', 'driftwatch.yaml'), env: {} });
  t.equal(config.cluster, CLUSTER);
  // The settings the scenario relies on (defaults of newer keys may be there too).
  t.match(config.collector.learning, SCENARIO_COLLECTOR.learning);
  t.match(config.collector.network, SCENARIO_COLLECTOR.network);
});

t.test('replay through normaliser, edge filter and engine raises exactly the attacks', async (t) => {
  const { open, replay } = await run(recording());
  t.teardown(() => replay.close());
  t.same(open, expectedKeys(), 'every attack raised with the right workload, kind, item and severity; all churn silent');

  const all = await replay.deviations();
  const byKey = new Map(all.map((d) => [deviationKey(d), d]));
  const session = [...byKey.values()].find((d) => d.kind === 'interactive-session')!;
  t.same(
    session.commands!.map((c) => c.exe),
    ['/bin/bash', '/usr/bin/id', '/bin/cat', '/usr/bin/psql'],
    'one session deviation lists its commands in order',
  );
  const shell = all.find((d) => d.itemKey === 'p|/bin/bash')!;
  t.same(shell.pods, ['web-6d8f9b7c5-h5n2r']);
  t.same(shell.nodes, ['node-a']);
  t.equal(shell.image, 'docker.io/library/nginx:1.27.2@sha256:2d194184b067db3598771b4cf326cfe6ad5051937ba1132b8b7d4b0184e0d0a6');
  t.ok(shell.samples[0]!.process.ancestors.some((a) => a.exe === '/usr/sbin/nginx'), 'samples carry the lineage (bash ← sh ← nginx)');
  const egress = all.find((d) => d.itemKey === 'n|egress|tcp|4444|ip|198.51.100.66')!;
  t.equal(egress.count, 2, 'deduplicated by (baseline, item): two connections, one deviation');
  t.equal(egress.severityReason, 'shell with a network connection');

  const baselines = await replay.engine.listBaselines();
  t.same(baselines.map((b) => `${b.workload.name} ${b.phase}`).sort(), ['api active', 'db active', 'log-agent active', 'report active', 'web active']);
  t.equal(baselines.find((b) => b.workload.name === 'db')!.completeness, 'partial', 'db only ran containers older than the sensor');
  t.equal(baselines.find((b) => b.workload.name === 'web')!.completeness, 'full', 'a fresh web container was seen');
  const apiItems = replay.store.connection.all<{ k: string }>("SELECT item_key AS k FROM baseline_items WHERE item_key LIKE 'n|egress|tcp|443|net|%'").map((r) => r.k);
  t.same(apiItems, ['n|egress|tcp|443|net|203.0.113.0/24'], 'rotating external addresses generalised to their /24');
  t.ok(replay.stats.sent < replay.stats.observations / 2, `edge filter sends what is new: ${replay.stats.sent} of ${replay.stats.observations}`);
  t.equal(EXPECTED_DEVIATIONS.length, open.length);
});

t.test('same deviations and baselines twice and whatever the order of the nodes’ streams', async (t) => {
  const events = generateScenario();
  const first = await run(events);
  t.teardown(() => first.replay.close());
  const orders: [string, TetragonJson[]][] = [
    ['again', events],
    ['round-robin chunks of 25', interleave(events, 25, ['node-a', 'node-b', 'node-c'])],
    ['reversed chunks of 60', interleave(events, 60, ['node-c', 'node-b', 'node-a'])],
    ['one whole node after the other', interleave(events, Number.MAX_SAFE_INTEGER, ['node-b', 'node-a', 'node-c'])],
  ];
  for (const [name, order] of orders) {
    const other = await run(order);
    t.same(other.open, first.open, `${name}: same open deviations`);
    t.same(other.items, first.items, `${name}: same learned items`);
    await other.replay.close();
  }
});
