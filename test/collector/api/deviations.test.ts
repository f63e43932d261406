import t from 'tap';
import { HOUR, learnScene, net, proc, startHarness, T0, workload, type Harness } from '../../helpers/api-harness.js';

/** 24 deviations over three workloads with varied kinds and severities, one per minute. */
async function raiseMany(h: Harness): Promise<number[]> {
  const { web, worker } = await learnScene(h);
  const api = workload('team-a', 'api');
  await h.ingest(proc(api, T0, '/app/server'));
  await h.endLearning();
  const ids: number[] = [];
  for (let i = 0; i < 24; i++) {
    const w = [web, worker, api][i % 3]!;
    const time = T0 + 3 * HOUR + i * 60_000;
    const obs = i % 4 === 3 ? net(w, time, 'egress', `198.51.100.${i}`, 8000 + i) : proc(w, time, i % 5 === 0 ? `/tmp/dropper-${i}` : `/usr/bin/tool-${i}`, `--run ${i}`);
    ids.push((await h.raise(obs)).id);
  }
  return ids;
}

async function pageThrough(h: Harness, query: string, limit: number, between?: (page: number) => Promise<void>): Promise<number[]> {
  const seen: number[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 1000; page++) {
    const r = await h.call('GET', `/api/v1/deviations?${query}&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
    if (r.status !== 200) throw new Error(r.text);
    seen.push(...r.body.items.map((d: { id: number }) => d.id));
    cursor = r.body.next;
    if (!cursor) break;
    await between?.(page);
  }
  return seen;
}

t.test('filters: namespace, workload, severity, status, kind, time range, text', async (t) => {
  const h = await startHarness(t);
  const ids = await raiseMany(h);
  const q = async (query: string): Promise<{ id: number; workload: { namespace: string; name: string }; severity: string; kind: string; status: string; summary: string; firstSeenMs: number; lastSeenMs: number }[]> => {
    const r = await h.call('GET', `/api/v1/deviations?${query}&limit=500`);
    t.equal(r.status, 200, query);
    return r.body.items;
  };
  t.equal((await q('')).length, 24);
  t.ok((await q('namespace=team-b')).every((d) => d.workload.namespace === 'team-b'));
  t.equal((await q('namespace=team-b')).length, 8);
  t.equal((await q('namespace=team-a,team-b')).length, 24);
  t.ok((await q('workload=api')).every((d) => d.workload.name === 'api'));
  t.equal((await q('workload=api')).length, 8);
  const high = await q('severity=high,critical');
  t.ok(high.length > 0 && high.every((d) => ['high', 'critical'].includes(d.severity)));
  t.same((await q('minSeverity=high')).map((d) => d.id), high.map((d) => d.id), 'minSeverity = the list of severities at or above');
  t.ok((await q('kind=network')).every((d) => d.kind === 'network'));
  t.equal((await q('kind=network')).length, 6);
  const from = T0 + 3 * HOUR + 10 * 60_000;
  const to = T0 + 3 * HOUR + 12 * 60_000;
  t.same((await q(`from=${from}&to=${to}`)).map((d) => d.id).sort((a, b) => a - b), ids.slice(10, 13));
  t.same((await q('q=DROPPER')).map((d) => d.summary.includes('dropper')), [true, true, true, true], 'text search is case-insensitive');
  t.equal((await q('q=100%25')).length, 0, 'LIKE wildcards in the text are literal');
  await h.call('POST', `/api/v1/deviations/${ids[0]}/ack`, { body: { comment: 'looking' } });
  t.same((await q('status=acknowledged')).map((d) => d.id), [ids[0]]);
  t.equal((await q('status=open')).length, 23);
  t.equal((await q('namespace=team-a&kind=process&minSeverity=high&q=dropper')).every((d) => d.workload.namespace === 'team-a' && d.kind === 'process'), true);

  // Sorts.
  const bySeverity = await q('sort=-severity');
  const rank = ['info', 'low', 'medium', 'high', 'critical'];
  t.ok(bySeverity.every((d, i) => i === 0 || rank.indexOf(bySeverity[i - 1]!.severity) >= rank.indexOf(d.severity)), 'sorted by severity');
  const oldest = await q('sort=firstSeen');
  t.ok(oldest.every((d, i) => i === 0 || oldest[i - 1]!.firstSeenMs <= d.firstSeenMs), 'sorted by first seen');
  t.equal((await h.call('GET', '/api/v1/deviations?sort=bogus')).status, 400);
});

t.test('keyset pagination is stable while new deviations arrive', async (t) => {
  const h = await startHarness(t);
  const ids = await raiseMany(h);
  const extra = workload('team-a', 'web');
  let n = 0;
  // Three new deviations after each of the first three pages of every walk.
  const arrive = async (page: number): Promise<void> => {
    if (page >= 3) return;
    for (let i = 0; i < 3; i++) {
      n += 1;
      await h.raise(proc(extra, T0 + 5 * HOUR + n * 1000, `/usr/bin/late-${n}`));
    }
  };
  for (const sort of ['-created', 'created', '-lastSeen', '-severity', 'firstSeen', '-count']) {
    const before = new Set(h.store.connection.all<{ id: number }>('SELECT id FROM deviations').map((r) => r.id));
    const seen = await pageThrough(h, `sort=${sort}`, 5, arrive);
    t.equal(new Set(seen).size, seen.length, `${sort}: no deviation twice`);
    t.ok([...before].every((id) => seen.includes(id)), `${sort}: every deviation present at the start is seen once`);
  }
  t.ok(n > 0 && ids.length === 24);
  // A cursor is tied to its sort order.
  const first = await h.call('GET', '/api/v1/deviations?sort=-created&limit=2');
  t.equal((await h.call('GET', `/api/v1/deviations?sort=-lastSeen&cursor=${first.body.next}`)).body.code, 'DW_ERR_BAD_CURSOR');
});

t.test('detail, ack / resolve / reopen, add to baseline: each in the audit log with before and after', async (t) => {
  const h = await startHarness(t);
  const { web } = await learnScene(h);
  const d = await h.raise(proc(web, T0 + 3 * HOUR, '/tmp/x', '<script>alert(1)</script> "><img src=x onerror=alert(2)> \u001b[31mred\u001b[0m'));
  const detail = await h.call('GET', `/api/v1/deviations/${d.id}`, { token: h.tokens.viewer });
  t.equal(detail.status, 200);
  t.equal(detail.body.deviation.itemKey, 'p|/tmp/x');
  t.equal(detail.body.deviation.samples[0].process.ancestors[1].exe, '/usr/bin/tini', 'samples carry the process lineage');
  t.equal(detail.body.baseline.id, (await h.baselineOf(web)));
  t.equal((await h.call('GET', '/api/v1/deviations/999999')).status, 404);

  const ack = await h.call('POST', `/api/v1/deviations/${d.id}/ack`, { token: h.tokens.analyst, body: { comment: 'on it' } });
  t.equal(ack.status, 200);
  t.equal(ack.body.status, 'acknowledged');
  t.equal(ack.body.statusBy, 'token:analyst');
  t.equal((await h.call('POST', `/api/v1/deviations/${d.id}/resolve`, { token: h.tokens.analyst, body: { comment: 'fixed the image' } })).body.status, 'resolved');
  t.equal((await h.call('POST', `/api/v1/deviations/${d.id}/reopen`, { token: h.tokens.analyst, body: {} })).body.status, 'open');
  t.equal((await h.call('POST', `/api/v1/deviations/${d.id}/add-to-baseline`, { token: h.tokens.analyst, body: { comment: 'x' } })).status, 403, 'adding needs approver');
  t.equal((await h.call('POST', `/api/v1/deviations/${d.id}/add-to-baseline`, { token: h.tokens.approver, body: {} })).status, 400, 'adding needs a comment');
  const added = await h.call('POST', `/api/v1/deviations/${d.id}/add-to-baseline`, { token: h.tokens.approver, body: { comment: 'our build step' } });
  t.equal(added.status, 200);
  t.equal(added.body.status, 'added-to-baseline');
  t.equal((await h.call('POST', `/api/v1/deviations/${d.id}/ack`, { token: h.tokens.analyst, body: {} })).status, 409, 'added is final');
  t.equal((await h.call('POST', `/api/v1/deviations/${d.id}/add-to-baseline`, { token: h.tokens.approver, body: { comment: 'adding it once more' } })).status, 409);
  const items = await h.call('GET', `/api/v1/baselines/${d.baselineId}/items`);
  t.ok(items.body.items.some((i: { key: string; origin: string }) => i.key === 'p|/tmp/x' && i.origin === 'manual'), 'the item is in the new baseline version');
  t.equal(items.body.version, 2);

  const audit = await h.call('GET', `/api/v1/audit?targetType=deviation&targetId=${d.id}`);
  t.same(
    audit.body.items.map((e: { action: string }) => e.action),
    ['deviation.add-to-baseline', 'deviation.reopen', 'deviation.resolve', 'deviation.ack'],
  );
  const [add, , resolve, first] = audit.body.items;
  t.equal(first.actor, 'token:analyst');
  t.equal(first.comment, 'on it');
  t.equal(first.namespace, 'team-a');
  t.same([first.before.status, first.after.status], ['open', 'acknowledged']);
  t.same([resolve.before.status, resolve.after.status], ['acknowledged', 'resolved']);
  t.equal(add.actor, 'token:approver');
  t.same([add.before.baselineVersion, add.after.baselineVersion], [1, 2]);
  t.match(add.at, /^\d{4}-\d\d-\d\dT/);
  t.equal((await h.call('GET', '/api/v1/audit?action=deviation.ack')).body.items.length, 1);
  // Audit paging.
  const p1 = await h.call('GET', '/api/v1/audit?limit=2');
  const p2 = await h.call('GET', `/api/v1/audit?limit=2&cursor=${p1.body.next}`);
  t.same([...p1.body.items, ...p2.body.items].map((e: { id: number }) => e.id), audit.body.items.map((e: { id: number }) => e.id));
});

t.test('overview: deviations per bucket and severity, by namespace, baselines and agents', async (t) => {
  const h = await startHarness(t);
  await raiseMany(h);
  const from = T0 + 3 * HOUR;
  const sum = (series: Record<string, number[]>): number => Object.values(series).flat().reduce((a, b) => a + b, 0);
  const all = await h.call('GET', `/api/v1/overview?from=${from}&to=${from + HOUR}&buckets=6`, { token: h.tokens.viewer });
  t.equal(all.status, 200);
  t.equal(all.body.bucketMs, 600_000);
  t.equal(sum(all.body.series), 24, 'every deviation in one bucket');
  t.same(all.body.series.high.length, 6);
  t.same(
    all.body.byNamespace.map((n: { namespace: string; open: number }) => [n.namespace, n.open]),
    [['team-a', 16], ['team-b', 8]],
  );
  t.equal(all.body.byStatus.open, 24);
  t.equal(all.body.baselinesByPhase.active, 3);
  const b = await h.call('GET', `/api/v1/overview?from=${from}&to=${from + HOUR}&namespace=team-b`);
  t.equal(sum(b.body.series), 8, 'the series narrowed to one namespace');
  t.equal(b.body.byNamespace.length, 2, 'the other counts are not');
  t.equal((await h.call('GET', `/api/v1/overview?namespace=team-b`, { token: h.tokens.scoped })).status, 403);
  t.equal((await h.call('GET', `/api/v1/overview?from=5&to=4`)).status, 400);

  const now = Date.now();
  await h.store.agents.hello({ instanceId: 'a1', node: 'node-1', cluster: 'test', version: '0.1.0', sources: ['tetragon-grpc'] }, new Date(now).toISOString());
  await h.store.agents.hello({ instanceId: 'a2', node: 'node-2', cluster: 'test', version: '0.1.0', sources: ['falco-http'] }, new Date(now - 10 * 60_000).toISOString());
  await h.store.agents.hello({ instanceId: 'a3', node: 'node-3', cluster: 'test', version: '0.1.0', sources: ['falco-http'] }, new Date(now).toISOString());
  await h.store.agents.disconnected('a3', new Date(now).toISOString());
  const list = await h.call('GET', '/api/v1/agents', { token: h.tokens.viewer });
  t.same(
    list.body.items.map((a: { node: string; health: string; sources: string[] }) => [a.node, a.health, a.sources]),
    [
      ['node-1', 'ok', ['tetragon-grpc']],
      ['node-2', 'stale', ['falco-http']],
      ['node-3', 'disconnected', ['falco-http']],
    ],
  );
  t.same((await h.call('GET', '/api/v1/overview')).body.agents, { ok: 1, stale: 1, disconnected: 1 });
});

t.test('decisions need a reason of collector.api.minReasonLength characters; the API says so', async (t) => {
  const h = await startHarness(t, { overrides: { 'collector.api.minReasonLength': 12 } });
  const { web } = await learnScene(h);
  const d = await h.raise(proc(web, T0 + 3 * HOUR, '/usr/bin/extra'));
  const id = await h.baselineOf(web);
  t.equal((await h.call('GET', '/api/v1/me')).body.minReasonLength, 12, 'the console learns the minimum from /me');
  for (const [path, body] of [
    [`/api/v1/deviations/${d.id}/add-to-baseline`, {}],
    [`/api/v1/baselines/${id}/approve`, { version: 1 }],
    [`/api/v1/baselines/${id}/reject`, { version: 1 }],
    [`/api/v1/baselines/${id}/relearn`, {}],
    ['/api/v1/baselines/approve-namespace', { namespace: 'team-a', dryRun: true }],
  ] as const) {
    t.equal((await h.call('POST', path, { body })).status, 400, `${path}: no reason`);
    const short = await h.call('POST', path, { body: { ...body, comment: '   expected     ' } });
    t.equal(short.status, 400, `${path}: spaces do not make a reason long enough`);
    t.equal(short.body.message, 'a reason is required: say why in at least 12 characters (it is kept in the audit log)');
  }
  t.equal((await h.call('GET', `/api/v1/deviations/${d.id}`)).body.deviation.status, 'open', 'nothing changed');
  const added = await h.call('POST', `/api/v1/deviations/${d.id}/add-to-baseline`, { body: { comment: '  part of release 42  ' } });
  t.equal(added.status, 200);
  t.equal(added.body.statusComment, 'part of release 42', 'the reason is kept, trimmed');
  const audit = await h.call('GET', `/api/v1/audit?targetType=deviation&targetId=${d.id}`);
  t.equal(audit.body.items[0].comment, 'part of release 42', 'and audited');
});
