/**
 * The last good content of each declared-baseline file stays in force when the file is broken or
 * emptied — while the collector runs, and after a restart (kept in the store).
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { DeclaredBaselines } from '../../../collector/baselines/declared.js';
import { SqliteStore } from '../../../collector/store/sqlite/store.js';
import { WEB } from '../../helpers/detection.js';

const DENY = `apiVersion: driftwatch.dev/v1
kind: Baseline
metadata:
  name: no-scanners
spec:
  selector: { workload: web }
  deny:
    processes:
      - path: /usr/bin/nmap
`;
/** `deny` misspelt on line 7: a schema error at 7:3. */
const BROKEN = DENY.replace('  deny:', '  denny:');

const denied = (d: DeclaredBaselines): string[] => d.forWorkload(WEB).deny.processes.map((p) => p.path);

t.test('after a restart, a broken file keeps the content it last loaded with (from the store)', async (t) => {
  const dir = t.testdir({ baselines: { 'deny.yaml': DENY }, data: {} });
  const baselines = join(dir, 'baselines');
  const open = () => new SqliteStore({ dataDir: join(dir, 'data') });
  let store = open();
  const first = new DeclaredBaselines({ dir: baselines, lastGood: store.declared });
  await first.restore();
  first.reload();
  t.same(denied(first), ['/usr/bin/nmap']);
  await first.saved();
  t.same((await store.declared.all()).map((f) => [f.file, f.text]), [['deny.yaml', DENY]], 'the loaded text is kept by file name');
  await store.close();

  // The file breaks while the collector is down; a new process starts.
  writeFileSync(join(baselines, 'deny.yaml'), BROKEN);
  store = open();
  t.teardown(() => store.close());
  const second = new DeclaredBaselines({ dir: baselines, lastGood: store.declared });
  await second.restore();
  const r = second.reload();
  t.same(denied(second), ['/usr/bin/nmap'], 'the deny list is still in force');
  t.equal(r.errors.length, 1);
  t.match(`${r.errors[0]!.file}:${r.errors[0]!.line}:${r.errors[0]!.column}`, /deny\.yaml:7:3$/, 'the error names file:line:column');
  const [status] = second.status();
  t.equal(status!.inForce, 'last-good');
  t.same(status!.baselines, [{ name: 'no-scanners', namespace: null }]);
  t.ok(status!.lastGoodSince, 'says since when');
  t.same((await store.declared.all()).map((f) => f.text), [DENY], 'the broken text never replaces the last good one');

  // Fixed: the file is in force as it is again, and the error is gone.
  writeFileSync(join(baselines, 'deny.yaml'), DENY.replace('/usr/bin/nmap', '/usr/bin/masscan'));
  t.same(second.reload().errors, []);
  t.same(denied(second), ['/usr/bin/masscan']);
  t.equal(second.status()[0]!.inForce, 'current');
});

t.test('an emptied file is a problem, not an empty set; deleting the file or a comment is the way to remove', async (t) => {
  const dir = t.testdir({ 'deny.yaml': DENY });
  const d = new DeclaredBaselines({ dir });
  d.reload();
  writeFileSync(join(dir, 'deny.yaml'), '\n  \n');
  const r = d.reload();
  t.same(denied(d), ['/usr/bin/nmap'], 'a truncated file keeps its deny list');
  t.match(r.errors[0]!.reason, /empty/);
  t.equal(d.status()[0]!.inForce, 'last-good');

  // Deleted, then recreated empty (a checkout in progress): the last good content comes back.
  rmSync(join(dir, 'deny.yaml'));
  d.reload();
  t.same(denied(d), [], 'deleting the file removes its baselines');
  writeFileSync(join(dir, 'deny.yaml'), '');
  d.reload();
  t.same(denied(d), ['/usr/bin/nmap'], 'recreated empty: its last good content is in force again');
  t.equal(d.errors().length, 1);

  writeFileSync(join(dir, 'deny.yaml'), '# scanners are allowed again: see change 1234\n');
  t.same(d.reload().errors, [], 'a file that says it is empty on purpose is no problem');
  t.same(denied(d), []);
  t.equal(d.status()[0]!.inForce, 'current');
});

t.test('a file broken from the start, with nothing kept, has nothing in force and says so', async (t) => {
  const dir = t.testdir({ 'deny.yaml': BROKEN });
  const d = new DeclaredBaselines({ dir });
  d.reload();
  t.same(denied(d), []);
  t.same(
    d.status().map((s) => [s.inForce, s.error?.line]),
    [['none', 7]],
  );
});
