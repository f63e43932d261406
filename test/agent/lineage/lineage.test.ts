/** Lineage cache: bound + oldest-first eviction, exit grace, refcounted parents, chains, sessions. */
import t from 'tap';
import { LineageCache, type ProcessInfo } from '../../../agent/lineage/cache.js';
import { createLineage } from '../../../agent/sources/index.js';
import { loadConfig } from '../../../cli/config.js';

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

/**
 * Eviction order against a plain model: whenever a new record pushes one out, it must be the one
 * an insertion-ordered list says is oldest (inserted or re-inserted first), whatever removals
 * happened in between (exits past their grace, replacements, parents released with their child).
 */
t.test('eviction order matches an insertion-ordered model under mixed operations', async (t) => {
  let now = 0;
  const cap = 50;
  const cache = new LineageCache({ maxProcesses: cap, exitGraceMs: 1_000, now: () => now });
  /** The model: the keys the cache holds, in insertion order (a JS Map keeps it). */
  const model = new Map<string, true>();
  const syncModel = (): void => {
    for (const k of [...model.keys()]) if (!cache.get(k)) model.delete(k);
  };
  // mulberry32: deterministic and well spread (a plain LCG's low bits cycle too soon).
  let seed = 42;
  const rand = (n: number): number => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) % n;
  };
  let checked = 0;
  let maxSize = 0;
  const wrong: string[] = [];
  for (let step = 0; step < 20_000; step++) {
    now += rand(3);
    const op = rand(10);
    const key = `k${rand(400)}`;
    if (op < 6) {
      const parent = rand(4) === 0 ? `k${rand(400)}` : null;
      cache.sweep();
      syncModel();
      const oldest = [...model.keys()].find((k) => k !== key);
      const evicted = cache.stats.evicted;
      cache.upsert(proc(key, parent === key ? null : parent));
      model.delete(key);
      model.set(key, true);
      if (cache.stats.evicted > evicted) {
        checked++;
        if (oldest === undefined || cache.get(oldest)) wrong.push(`step ${step}: expected ${oldest} evicted`);
      }
    } else if (op < 9) cache.exit(key);
    else cache.sweep();
    syncModel();
    maxSize = Math.max(maxSize, cache.size);
  }
  t.same(wrong, [], 'every eviction took the oldest record');
  t.ok(checked > 1000, `${checked} evictions checked`);
  t.ok(maxSize <= cap, 'never above the cap');
  t.equal(cache.stats.size, cache.size);
});

t.test('eviction keeps the insertion order when records in the middle were removed', async (t) => {
  let now = 0;
  const cache = new LineageCache({ maxProcesses: 4, exitGraceMs: 10, now: () => now });
  for (const k of ['a', 'b', 'c', 'd']) cache.upsert(proc(k, null));
  cache.exit('b');
  now = 20;
  cache.sweep(); // b expires: a hole in the middle of the order
  cache.upsert(proc('e', null)); // room for it: nothing evicted
  t.same(['a', 'c', 'd', 'e'].map((k) => cache.get(k) !== undefined), [true, true, true, true]);
  cache.upsert(proc('f', null));
  t.notOk(cache.get('a'), 'a was the oldest');
  cache.upsert(proc('g', null));
  t.notOk(cache.get('c'), 'then c (b is long gone)');
  t.same(['d', 'e', 'f', 'g'].map((k) => cache.get(k) !== undefined), [true, true, true, true]);
  t.equal(cache.stats.evicted, 2);
});

t.test('bounded in bytes: long records evict the oldest before the count bound is reached', async (t) => {
  const cache = new LineageCache({ maxProcesses: 10_000, maxBytes: 64 * 1024 });
  const longArgs = 'x'.repeat(4_000);
  for (let i = 0; i < 100; i++) cache.upsert(proc(`p${i}`, null, { args: longArgs }));
  t.ok(cache.stats.bytes <= 64 * 1024, `estimated bytes ${cache.stats.bytes} within the bound`);
  t.ok(cache.size < 100 && cache.size > 0, `${cache.size} records kept`);
  t.ok(cache.get('p99'), 'the newest stays');
  t.notOk(cache.get('p0'), 'the oldest went');
  t.equal(cache.stats.evicted, 100 - cache.size);
});

t.test('records share the strings many processes repeat', async (t) => {
  const cache = new LineageCache({ maxProcesses: 100 });
  const parent = cache.upsert(proc('parent-exec-id', null));
  // Strings decoded from different events: equal, but separate copies.
  const a = cache.upsert(proc('a', ['parent', 'exec', 'id'].join('-'), { exe: ['/usr', 'bin', 'curl'].join('/'), containerId: ['c', '1'].join('') }));
  const b = cache.upsert(proc('b', ['parent', 'exec', 'id'].join('-'), { exe: ['/usr', 'bin', 'curl'].join('/') }));
  t.equal(a.parentKey, parent.key);
  t.equal(a.exe, b.exe);
  t.equal(cache.resolve(a).ancestors[0], parent.asAncestor, 'ancestor views are shared');
});

t.test('shipped defaults: a node that keeps starting processes holds at most 16,384 records and 8 MiB', async (t) => {
  // The soak's pattern (issue 12 point 15): fresh exec ids forever, many never exiting. The cache
  // must reach its bound early and stay there, not grow towards a bound far beyond the agent's budget.
  const cache = createLineage(loadConfig({ env: {} }).agent);
  const execId = (i: number): string => Buffer.from(`node-a:${3340800150041001 + i}:${41001 + i}`).toString('base64');
  const args = '-jar /app/service.jar --spring.profiles.active=production --server.port=8080 --logging.level.root=INFO';
  for (let i = 0; i < 100_000; i++) cache.upsert(proc(execId(i), execId(i - 1), { args }));
  t.ok(cache.size <= 16_384, `${cache.size} records held`);
  t.ok(cache.stats.bytes <= 8 * 2 ** 20, `estimated ${cache.stats.bytes} bytes held`);
  t.equal(cache.stats.evicted, 100_000 - cache.size, 'the rest was evicted, oldest first');
  t.ok(cache.get(execId(99_999)), 'the newest stays');
});

t.test('the byte estimate counts a record and its own strings, not the shared exe path', async (t) => {
  const cache = new LineageCache({ maxProcesses: 10 });
  const short = cache.upsert(proc('k', null, { args: '', exe: '/bin/sh' }));
  const longExe = cache.upsert(proc('j', null, { args: '', exe: `/opt/${'x'.repeat(1_000)}` }));
  const longArgs = cache.upsert(proc('i', null, { args: 'y'.repeat(1_000), exe: '/bin/sh' }));
  t.equal(longExe.bytes, short.bytes, 'exe paths are interned: one copy for all records');
  t.equal(longArgs.bytes - short.bytes, 1_000, 'one byte per character of a command line');
});
