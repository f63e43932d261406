/**
 * The engine and the console's read side give the same answers on SQLite and PostgreSQL: one
 * scenario (learning, activation, deviations of every kind, a review, retention) runs on each
 * backend, and everything the API and the metrics read through the store contract is compared.
 * This is what exercises the repositories' SQL on PostgreSQL: keyset pages, text search, the
 * overview's time buckets, counts, the audit report.
 */
import t from 'tap';
import type { Store } from '../../../collector/store/contract.js';
import type { Severity } from '../../../common/deviations.js';
import { exec, fixtureOn, MIN, net, T0, WEB } from '../../helpers/detection.js';
import { STORE_BACKENDS, storeOpener } from '../../helpers/postgres.js';

const API = { ...WEB, name: 'api', container: 'app' };
const OTHER_NS = { ...WEB, namespace: 'billing', name: 'ledger', container: 'app' };

/** Everything the read side answers after the scenario, without wall-clock times. */
async function scenario(store: Store): Promise<unknown> {
  const f = await fixtureOn(store);
  try {
    for (const w of [WEB, API, OTHER_NS]) await f.feed(exec('/usr/sbin/nginx', { time: T0, workload: w }), net('egress', { time: T0 + 1, peer: '10.96.0.10', port: 53, workload: w }));
    // A batch of more than one INSERT's rows, then re-sent: stored once.
    await store.agents.hello({ instanceId: 'node-b', node: 'node-b', cluster: 'test', version: 't', sources: [] }, new Date().toISOString());
    const learning = Array.from({ length: 300 }, (_, i) => exec('/usr/sbin/nginx', { time: T0 + 2 + i, workload: WEB }));
    await f.engine.unitOfWork.ingest({ agentInstanceId: 'node-b', seq: 1, observations: learning });
    await f.engine.unitOfWork.ingest({ agentInstanceId: 'node-b', seq: 1, observations: learning });
    await f.engine.unitOfWork.tick(T0 + 2 * 60 * MIN);
    const after = T0 + 3 * 60 * MIN;
    await f.feed(
      exec('/bin/sh', { time: after, args: '-c id', workload: WEB }),
      exec('/usr/bin/curl', { time: after + MIN, workload: WEB }),
      exec('/usr/bin/wget', { time: after + 2 * MIN, workload: API }),
      net('egress', { time: after + 3 * MIN, peer: '203.0.113.7', port: 4444, workload: API }),
      exec('/tmp/x', { time: after + 4 * MIN, workload: OTHER_NS }),
    );
    await f.feed(exec('/usr/bin/curl', { time: after + 20 * MIN, workload: WEB, node: 'node-c' }));
    const first = (await store.queries.listDeviations({ sort: 'created', descending: false, limit: 100, scope: null })).items;
    const acked = first.find((d) => d.itemKey === 'p|/usr/bin/curl')!;
    await f.engine.setStatus(acked.id, 'acknowledged', 'alice', 'looking');
    await store.transaction((tx) => tx.audit.append({ actor: 'alice', action: 'deviation.ack', targetType: 'deviation', targetId: acked.id, namespace: 'shop', comment: 'looking' }));

    const pages = async (sort: 'severity' | 'lastSeen' | 'count', descending: boolean): Promise<string[]> => {
      const keys: string[] = [];
      let after: { key: number; id: number } | undefined;
      for (;;) {
        const page = await store.queries.listDeviations({ sort, descending, limit: 2, scope: null, ...(after && { after }) });
        keys.push(...page.items.map((d) => `${d.workload.name} ${d.itemKey} ${d.severity} ${d.status} ${d.count}`));
        if (!page.next) return keys;
        after = page.next;
      }
    };
    const strip = <T extends object>(rows: T[], ...keys: string[]): unknown[] => rows.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !keys.includes(k))));
    const workloads = await store.queries.listWorkloads({ limit: 2, scope: null });
    // Buckets start 10 minutes in: the deviations fall past the middle of theirs (rounding ≠ truncation).
    const overview = await store.reports.overview({ fromMs: T0 + 10 * MIN, toMs: after + 60 * MIN, buckets: 12, scope: null, nowMs: Date.now() });
    const baseline = (await f.engine.currentBaseline(WEB))!;
    return {
      bySeverity: await pages('severity', true),
      byLastSeen: await pages('lastSeen', false),
      byCount: await pages('count', true),
      text: (await store.queries.listDeviations({ sort: 'created', descending: false, limit: 10, scope: null, text: 'CURL' })).items.map((d) => d.itemKey),
      scoped: (await store.queries.listDeviations({ sort: 'created', descending: false, limit: 10, scope: ['billing'], severities: ['high', 'critical', 'medium'] as Severity[] })).items.map((d) => d.itemKey),
      workloads: { names: workloads.items.map((w) => `${w.workload.namespace}/${w.workload.name} ${w.baseline?.phase} ${w.openDeviations}`), next: workloads.next !== null },
      overview: { ...overview, agents: undefined },
      openCounts: (await store.reports.openDeviationCounts()).sort((a, b) => `${a.namespace}${a.severity}`.localeCompare(`${b.namespace}${b.severity}`)),
      phases: [...(await store.reports.baselinesByPhase()).entries()],
      items: strip(await store.queries.baselineItems(baseline.id, baseline.version), 'firstSeenMs', 'lastSeenMs'),
      handling: (await store.reports.deviationHandling({ fromAt: '2000-01-01T00:00:00Z', toAt: '2100-01-01T00:00:00Z', scope: null })).map((h) => `${h.namespace} ${h.severity} ${h.status} ${h.acknowledgedAt !== null}`),
      audit: (await store.audit.list({ limit: 10 })).map((e) => `${e.actor} ${e.action} ${e.targetType}`),
      observations: await store.observations.count(),
      lastSeq: await store.agents.lastSeq('node-b'),
    };
  } finally {
    await f.close();
  }
}

const results = new Map<string, unknown>();
for (const backend of STORE_BACKENDS) {
  t.test(`the scenario on ${backend}`, async (t) => {
    const open = await storeOpener(t, backend);
    if (!open) return;
    results.set(backend, await scenario(await open()));
  });
}

t.test('PostgreSQL answers exactly as SQLite', async (t) => {
  const sqlite = results.get('sqlite') as Record<string, unknown>;
  const postgres = results.get('postgres') as Record<string, unknown> | undefined;
  t.equal(sqlite.observations, 3 * 2 + 300 + 5 + 1, 'the re-sent batch is stored once');
  if (!postgres) return void t.comment('PostgreSQL scenario skipped: nothing to compare');
  for (const key of Object.keys(sqlite)) t.same(postgres[key], sqlite[key], key);
});
