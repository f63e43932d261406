/**
 * Grouping and the rate limit follow the deviations' event time: the same deviations decided with
 * the wall clock keeping pace with event time (live) and with the wall clock running 1000× slower
 * than event time (a replay, an agent catching up) give the same notifications, member for member.
 */
import t, { type Test } from 'tap';
import { join } from 'node:path';
import { CollectorBus } from '../../../collector/events.js';
import { SqliteStore } from '../../../collector/store/sqlite/store.js';
import type { Deviation, Severity } from '../../../common/deviations.js';
import type { WorkloadId } from '../../../common/model.js';
import { alertingConfig, deviation, FAST, readAlertFile, startAlerting, T0, until, WORKLOAD } from '../../helpers/alerting.js';

const SEC = 1000;
const MIN = 60 * SEC;

function w(name: string): WorkloadId {
  return { ...WORKLOAD, name };
}

/** Bursts, singletons, a trickle and a severe one across four workloads over half an hour of event time. */
function recording(): Deviation[] {
  const out: Deviation[] = [];
  let id = 1000;
  const add = (workload: WorkloadId, at: number, severity: Severity = 'medium'): void => {
    out.push(deviation({ id: ++id, workload, firstSeenMs: T0 + at, severity, summary: `new process /usr/bin/t${id} in ${workload.name}` }));
  };
  for (let i = 0; i < 8; i++) add(w('burst'), i * 600); // 8 within 5 s → a group
  for (let i = 0; i < 3; i++) add(w('few'), MIN + i * 2 * SEC); // 3 within 4 s → one each
  for (let i = 0; i < 7; i++) add(w('trickle'), 10 * MIN + i * 20 * SEC); // 20 s apart: one each until the window (2m) holds more than 5
  add(w('severe'), 20 * MIN, 'high'); // at once, as a group …
  add(w('severe'), 20 * MIN + 3 * SEC); // … that this one joins
  for (let i = 0; i < 2; i++) add(w('burst'), 30 * MIN + i * SEC); // the first workload again, much later: one each
  return out.sort((a, b) => a.firstSeenMs - b.firstSeenMs);
}

/** Final content per alert: its kind and the members of its latest notification. */
async function decide(t: Test, wallPerEventMs: number): Promise<Map<string, string>> {
  const dir = t.testdir();
  const db = new SqliteStore({ dataDir: dir });
  t.teardown(() => db.close());
  const bus = new CollectorBus();
  const path = join(dir, 'out.jsonl');
  const wall0 = Date.now();
  const clock = { ms: wall0, now: () => clock.ms };
  const alerting = startAlerting(db, bus, alertingConfig({ retry: FAST.retry, updateInterval: FAST.updateInterval, sinks: [{ name: 'f', type: 'file', path }] }), { clock });
  t.teardown(() => alerting.close());
  await alerting.start();
  for (const d of recording()) {
    // Wall time has reached this deviation's arrival: whatever came due meanwhile is decided first.
    clock.ms = wall0 + (d.firstSeenMs - T0) * wallPerEventMs;
    await alerting.sweep();
    bus.emit({ type: 'deviation.created', deviation: d });
    await alerting.sweep();
  }
  for (let i = 0; i < 3; i++) {
    clock.ms += 11 * SEC;
    await alerting.sweep();
  }
  await until(async () => (await alerting.outbox.queueStats()).length === 0);
  const latest = new Map<string, string>();
  for (const n of readAlertFile(path)) {
    const members = n.deviations.map((d) => d.id).sort((a, b) => a - b);
    latest.set(`${n.kind} from ${members[0]}`, `${n.kind}: ${members.join(' ')} (+${n.truncated})`);
  }
  return latest;
}

t.test('the same deviations group exactly alike in real time and 1000× faster', async (t) => {
  const live = await decide(t, 1);
  const fast = await decide(t, 1 / 1000);
  t.same([...fast.values()].sort(), [...live.values()].sort(), 'identical grouping');
  const kinds = [...live.values()].map((v) => v.split(':')[0]);
  t.equal(kinds.filter((k) => k === 'group').length, 3, 'the burst, the trickle past the threshold and the severe one are groups');
  t.ok([...live.values()].includes('group: 1001 1002 1003 1004 1005 1006 1007 1008 (+0)'), 'the burst is one group of 8');
  t.ok([...live.values()].includes('group: 1017 1018 (+0)'), 'the trickle: one each until more than 5 fall within the window');
  t.ok([...live.values()].includes('deviation: 1021 (+0)') && [...live.values()].includes('deviation: 1022 (+0)'), 'the same workload half an hour later is not bundled with its burst');
});
