/** Lineage cache: bound + oldest-first eviction, exit grace, refcounted parents, chains, sessions. */
import t from 'tap';
import { LineageCache, type ProcessInfo } from '../../../agent/lineage/cache.js';

function proc(key: string, parentKey: string | null, extra: Partial<ProcessInfo> = {}): ProcessInfo {
  return { key, execId: key, parentKey, exe: `/bin/${key}`, args: '', pid: null, containerId: 'c1', containerPid: null, inInitTree: null, procFs: false, fromExec: true, ...extra };
}

t.test('bounded: oldest inserted evicted first', async (t) => {
  const cache = new LineageCache({ maxProcesses: 3 });
  for (const k of ['a', 'b', 'c', 'd', 'e']) cache.upsert(proc(k, null));
  t.equal(cache.size, 3);
  t.same(['a', 'b', 'c', 'd', 'e'].map((k) => cache.get(k) !== undefined), [false, false, true, true, true]);
  t.equal(cache.stats.evicted, 2);
  cache.upsert(proc('c', null)); // re-exec refreshes: c becomes the newest
  cache.upsert(proc('f', null));
  t.ok(cache.get('c'), 'refreshed record survives');
  t.notOk(cache.get('d'), 'now d was the oldest');
});

t.test('exits: resolvable during the grace period, gone after it (injected clock)', async (t) => {
  let now = 1_000;
  const cache = new LineageCache({ maxProcesses: 100, exitGraceMs: 5_000, now: () => now });
  cache.upsert(proc('p', null));
  cache.exit('p');
  now += 4_999;
  cache.sweep();
  t.ok(cache.get('p'), 'late events still resolve');
  now += 2;
  cache.sweep();
  t.notOk(cache.get('p'), 'removed after the grace');
  t.equal(cache.stats.expired, 1);
});

t.test('an exited parent stays while a live child needs it, and goes with its last child', async (t) => {
  let now = 0;
  const cache = new LineageCache({ maxProcesses: 100, exitGraceMs: 10, now: () => now });
  cache.upsert(proc('shell', null, { containerPid: 1 }));
  cache.upsert(proc('child', 'shell'));
  cache.exit('shell');
  now = 100;
  cache.sweep();
  t.ok(cache.get('shell'), 'parent kept for its child');
  t.same(cache.resolve(cache.get('child')!).ancestors.map((a) => a.exe), ['/bin/shell']);
  cache.exit('child');
  now = 200;
  cache.sweep();
  t.notOk(cache.get('child'));
  t.notOk(cache.get('shell'), 'released with its last child');
});

t.test('chains stop at the container boundary; init tree and sessions', async (t) => {
  const cache = new LineageCache({ maxProcesses: 100 });
  cache.upsert(proc('shim', null, { containerId: null, exe: '/usr/bin/containerd-shim-runc-v2' }));
  cache.upsert(proc('init', 'shim', { containerPid: 1 }));
  cache.upsert(proc('worker', 'init', { containerPid: 7 }));
  const w = cache.resolve(cache.get('worker')!);
  t.same(w.ancestors.map((a) => a.execId), ['init'], 'nearest first, up to the entrypoint');
  t.equal(w.complete, true);
  t.equal(w.inInitTree, true, 'inferred: descends from the container PID 1');
  t.equal(w.sessionId, null);

  // kubectl exec: runc starts a shell in the container, outside the init tree.
  cache.upsert(proc('runc', 'shim', { containerId: null, exe: '/usr/bin/runc' }));
  cache.upsert(proc('sh', 'runc', { containerPid: 40 }));
  cache.upsert(proc('curl', 'sh', { containerPid: 41 }));
  const c = cache.resolve(cache.get('curl')!);
  t.same(c.ancestors.map((a) => a.execId), ['sh']);
  t.equal(c.complete, true, 'stopped at runc (outside the container)');
  t.equal(c.inInitTree, false);
  t.equal(c.sessionId, 'sh', 'the session is the process that entered the container');

  // Tetragon's in_init_tree wins over inference.
  cache.upsert(proc('x', 'sh', { inInitTree: false }));
  t.equal(cache.resolve(cache.get('x')!).sessionId, 'sh');

  // A missing link makes the chain partial.
  cache.upsert(proc('orphan', 'unknown-parent'));
  const o = cache.resolve(cache.get('orphan')!);
  t.equal(o.complete, false);
  t.equal(o.inInitTree, null, 'cannot tell');
});

t.test('pre-existing containers are remembered, bounded', async (t) => {
  const cache = new LineageCache({ maxProcesses: 100, maxContainers: 2 });
  cache.markContainerPreexisting('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa');
  t.ok(cache.isContainerPreexisting('aaaaaaaaaaaa'), 'compared on 12 chars');
  cache.markContainerPreexisting('b');
  cache.markContainerPreexisting('c');
  t.notOk(cache.isContainerPreexisting('aaaaaaaaaaaa'), 'oldest forgotten');
  t.notOk(cache.isContainerPreexisting(null));
});

t.test('memory stays bounded under a long stream', async (t) => {
  const cache = new LineageCache({ maxProcesses: 1000 });
  for (let i = 0; i < 50_000; i++) {
    cache.upsert(proc(`p${i}`, i > 0 ? `p${i - 1}` : null));
    if (i % 2 === 0) cache.exit(`p${i}`);
  }
  t.ok(cache.size <= 1000);
});
