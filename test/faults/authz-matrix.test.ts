/**
 * The authorisation matrix (issue 12): every route of the OpenAPI document × every kind of caller
 * — no token, an unknown token, a viewer and an approver scoped to team-a, an admin scoped to
 * team-a, an unscoped admin — on team-a's objects and team-b's. The table below must name every
 * route the API serves (a new route without an entry fails here), and each cell is checked:
 * 401 without a valid token, 403 below the route's role or when the caller names another
 * namespace itself, 404 — answered exactly as for an id that does not exist — for another
 * namespace's object, and lists holding only the caller's namespaces. The live stream: every
 * event kind (a type-level table, so a new kind fails typecheck until it is listed) reaches
 * exactly the clients whose scope holds it.
 */
import t, { type Test } from 'tap';
import { WebSocket } from 'ws';
import type { CollectorEvent, Deviation } from '../../common/deviations.js';
import type { Role } from '../../collector/store/tokens.js';
import { HOUR, learnScene, proc, startHarness, T0, type Harness, type Reply } from '../helpers/api-harness.js';
import { eventually } from '../helpers/processes.js';

type Namespace = 'team-a' | 'team-b';
type Target = 'deviation' | 'baseline' | 'workload' | 'token' | 'audit';

interface Caller {
  name: string;
  token: string | null;
  role: Role | null;
  /** null: every namespace. */
  namespaces: Namespace[] | null;
}

interface Entry {
  /** The object the path's `{id}` names. */
  target?: Target;
  /** A valid body; `ns` is the namespace the body names (when it names one) and `n` makes it unique. */
  body?: (ns: Namespace, n: number) => unknown;
  /** The body names a namespace (of a token, of an approval): another one is refused with 403. */
  bodyNamespace?: boolean;
  query?: string;
  /** The namespaces a successful answer shows (lists). */
  shows?: (body: Reply['body']) => string[];
  /** Cluster-wide by nature (pipeline counts): a namespace-scoped token is refused with 403. */
  unscopedOnly?: boolean;
}

const REASON = 'reviewed in the authorisation matrix';
const CANDIDATE = 'apiVersion: driftwatch.dev/v1\nkind: Baseline\nmetadata: { name: matrix }\nspec:\n  selector: { namespace: team-a }\n  allow:\n    processes: [{ path: /usr/sbin/nginx }]\n';
const byNs = (items: { namespace?: string | null }[]): string[] => items.map((i) => i.namespace ?? '(cluster)');

/** Every route, by `METHOD path` as the OpenAPI document names it. */
const MATRIX: Record<string, Entry> = {
  'GET /openapi.json': {},
  'GET /me': {},
  'GET /agents': {},
  'GET /overview': { query: `?from=${T0}&to=${T0 + 10 * HOUR}`, shows: (b) => b.byNamespace.map((n: { namespace: string }) => n.namespace) },
  'GET /audit': { shows: (b) => byNs(b.items) },
  'GET /tokens': { shows: (b) => b.items.flatMap((i: { namespaces: string[] | null }) => i.namespaces ?? ['(all)']) },
  'POST /tokens': { bodyNamespace: true, body: (ns, n) => ({ name: `matrix-${n}`, role: 'viewer', namespaces: [ns] }) },
  'DELETE /tokens/{id}': { target: 'token' },
  'GET /workloads': { shows: (b) => b.items.map((w: { workload: { namespace: string } }) => w.workload.namespace) },
  'GET /workloads/{id}/baselines': { target: 'workload' },
  'GET /workloads/{id}/releases': { target: 'workload' },
  'GET /baselines/{id}': { target: 'baseline' },
  'GET /baselines/{id}/items': { target: 'baseline' },
  'GET /baselines/{id}/diff': { target: 'baseline' },
  'GET /baselines/{id}/export': { target: 'baseline' },
  'GET /baselines/{id}/proposal': { target: 'baseline' },
  'POST /baselines/{id}/what-if': { target: 'baseline', body: () => ({ items: [] }) },
  'POST /baselines/{id}/candidate-diff': { target: 'baseline', body: () => ({ yaml: CANDIDATE }) },
  'POST /audit/{id}/undo': { target: 'audit', body: () => ({ comment: REASON }) },
  'POST /baselines/{id}/approve': { target: 'baseline', body: () => ({ version: 1, comment: REASON }) },
  'POST /baselines/{id}/reject': { target: 'baseline', body: () => ({ version: 1, comment: REASON }) },
  'POST /baselines/{id}/relearn': { target: 'baseline', body: () => ({ comment: REASON }) },
  'POST /baselines/approve-namespace': { bodyNamespace: true, body: (ns) => ({ namespace: ns, comment: REASON, dryRun: true }) },
  'POST /baselines/relearn-namespace': { bodyNamespace: true, body: (ns) => ({ namespace: ns, comment: REASON, dryRun: true }) },
  'GET /deviations': { shows: (b) => b.items.map((d: Deviation) => d.workload.namespace) },
  'GET /deviations/{id}': { target: 'deviation' },
  'POST /deviations/{id}/ack': { target: 'deviation', body: () => ({ comment: REASON }) },
  'POST /deviations/{id}/resolve': { target: 'deviation', body: () => ({ comment: REASON }) },
  'POST /deviations/{id}/reopen': { target: 'deviation', body: () => ({ comment: REASON }) },
  'POST /deviations/{id}/add-to-baseline': { target: 'deviation', body: () => ({ comment: REASON }) },
  'GET /status': { unscopedOnly: true },
  // The harness declares no files; which files a scoped token sees: test/collector/api/declared-status.test.ts.
  'GET /baselines/declared/status': {},
  'GET /reports/audit': { query: `?from=0&to=${Date.now() + HOUR}`, shows: (b) => byNs(b.decisions ?? []) },
};

const RANK: readonly Role[] = ['viewer', 'analyst', 'approver', 'admin'];

async function callers(h: Harness): Promise<Caller[]> {
  const make = async (name: string, role: Role, namespaces: Namespace[] | null): Promise<Caller> => ({
    name,
    role,
    namespaces,
    token: (await h.store.tokens.create({ name: name.replace(/ /g, '-'), role, namespaces, createdBy: 'matrix' })).token,
  });
  return [
    { name: 'no token', token: null, role: null, namespaces: null },
    { name: 'unknown token', token: 'dw_' + 'Q'.repeat(43), role: null, namespaces: null },
    await make('viewer of team-a', 'viewer', ['team-a']),
    await make('approver of team-a', 'approver', ['team-a']),
    await make('admin of team-a', 'admin', ['team-a']),
    { name: 'admin', token: h.tokens.admin, role: 'admin', namespaces: null },
  ];
}

interface Scene {
  ids: Record<Target, (ns: Namespace) => Promise<number>>;
}

async function scene(t: Test, h: Harness): Promise<Scene> {
  const { web, worker } = await learnScene(h);
  const w = { 'team-a': web, 'team-b': worker };
  // Something of each namespace in every list (deviations, the overview, the audit log), so that a
  // list showing another namespace would be seen.
  const acks = {} as Record<Namespace, number>;
  for (const [ns, workload] of Object.entries(w) as [Namespace, typeof web][]) {
    const d = await h.raise(proc(workload, T0 + 3 * HOUR, '/usr/bin/listed'));
    t.equal((await h.call('POST', `/api/v1/deviations/${d.id}/ack`, { body: { comment: REASON } })).status, 200);
    acks[ns] = (await h.call('GET', `/api/v1/audit?targetType=deviation&targetId=${d.id}&limit=1`)).body.items[0].id;
    await h.raise(proc(workload, T0 + 3 * HOUR, '/usr/bin/still-open'));
  }
  let n = 0;
  return {
    ids: {
      // A fresh object per call: the approvals, add-to-baseline and revocations the matrix makes do
      // not change what the next caller finds.
      deviation: async (ns) => (await h.raise(proc(w[ns], T0 + 3 * HOUR + ++n, `/usr/bin/tool-${n}`))).id,
      baseline: async (ns) => h.baselineOf(w[ns]),
      workload: async (ns) => (await h.store.workloads.find(w[ns]))!,
      token: async (ns) => (await h.store.tokens.create({ name: `victim-${++n}`, role: 'viewer', namespaces: [ns], createdBy: 'matrix' })).info.tokenId,
      // The scene's acknowledgement: the first caller allowed undoes it, the next ones get 409.
      audit: async (ns) => acks[ns],
    },
  };
}

const ABSENT_ID = 987654;

t.test('every route × every caller: 401, 403, 404-as-if-absent or allowed, and lists only in scope', async (t) => {
  const h = await startHarness(t);
  const { ids } = await scene(t, h);
  const who = await callers(h);
  const doc = (await h.call('GET', '/api/v1/openapi.json', { token: null })).body as { paths: Record<string, Record<string, { 'x-driftwatch-role': string }>> };
  const served = Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([m, op]) => ({ key: `${m.toUpperCase()} ${path}`, role: op['x-driftwatch-role'] })));
  t.same(served.map((r) => r.key).sort(), Object.keys(MATRIX).sort(), 'the matrix names exactly the routes the API serves');
  let cells = 0;
  let unique = 0;
  for (const { key, role } of served) {
    const entry = MATRIX[key];
    if (!entry) continue;
    const [method, path] = key.split(' ') as [string, string];
    const need = role === 'public' ? -1 : RANK.indexOf(role as Role);
    for (const caller of who) {
      for (const ns of ['team-a', 'team-b'] as const) {
        const url = (id: number | null): string => `/api/v1${path.replace('{id}', String(id))}${entry.query ?? ''}`;
        const id = entry.target ? await ids[entry.target](ns) : null;
        const body = entry.body?.(ns, ++unique) ?? (method === 'GET' ? undefined : {});
        const r = await h.call(method, url(id), { token: caller.token, body });
        const cell = `${key} as ${caller.name} on ${ns}: ${r.status} ${JSON.stringify(r.body).slice(0, 160)}`;
        cells++;
        const inScope = caller.namespaces === null || caller.namespaces.includes(ns);
        if (need < 0) {
          t.equal(r.status, 200, cell);
          continue;
        }
        if (caller.role === null) {
          t.same([r.status, r.body.code], [401, 'DW_ERR_UNAUTHENTICATED'], cell);
          continue;
        }
        if (RANK.indexOf(caller.role) < need) {
          t.same([r.status, r.body.code], [403, 'DW_ERR_FORBIDDEN_ROLE'], cell);
          continue;
        }
        if (entry.unscopedOnly && caller.namespaces !== null) {
          t.same([r.status, r.body.code], [403, 'DW_ERR_FORBIDDEN_SCOPE'], cell);
          continue;
        }
        if (!inScope && entry.target) {
          // Exactly the answer for an id that does not exist: the caller learns nothing.
          const absent = await h.call(method, url(ABSENT_ID), { token: caller.token, body });
          t.equal(r.status, 404, cell);
          t.same(r.body, { ...absent.body, message: absent.body.message.replace(String(ABSENT_ID), String(id)) }, `${cell}: as if absent`);
          continue;
        }
        if (!inScope && entry.bodyNamespace) {
          t.same([r.status, r.body.code], [403, 'DW_ERR_FORBIDDEN_SCOPE'], cell);
          continue;
        }
        t.ok(r.status < 400 || r.status === 409, `${cell}: allowed`);
        if (entry.shows && r.status === 200) {
          const shown = entry.shows(r.body);
          const outside = shown.filter((s) => caller.namespaces !== null && !caller.namespaces.includes(s as Namespace));
          t.same(outside, [], `${cell}: shows only its namespaces`);
          if (caller.namespaces === null) t.ok(shown.includes('team-b'), `${key} as ${caller.name}: shows team-b too (the check is not vacuous)`);
        }
      }
    }
  }
  t.ok(cells >= 300, `${cells} cells`);
});

/** Who receives an event of each kind, by caller; `satisfies` makes the table name every kind. */
type Audience = 'team-a' | 'team-b' | 'unscoped' | 'all';
const STREAM_KINDS = {
  'deviation.created': 'team-a',
  'deviation.updated': 'team-b',
  'deviation.status': 'team-a',
  'baseline.changed': 'team-b',
  'agent.connected': 'all',
  'agent.disconnected': 'all',
  health: 'team-b',
} as const satisfies Record<CollectorEvent['type'], Audience>;

t.test('live stream: every event kind reaches exactly the clients whose scope holds it', async (t) => {
  const h = await startHarness(t);
  const { web, worker } = await learnScene(h);
  const devA = await h.raise(proc(web, T0 + 3 * HOUR, '/usr/bin/wget'));
  const devB = await h.raise(proc(worker, T0 + 3 * HOUR, '/usr/bin/nc'));
  const baselineB = (await h.engine.currentBaseline(worker))!;
  const agent = { instanceId: 'node-9-a', node: 'node-9', cluster: 'test', version: '0', sources: [], connected: true, firstSeenAt: '', lastSeenAt: '', counters: {} };
  const health = (key: string, namespace?: string): CollectorEvent => ({ type: 'health', health: { kind: 'baseline-overflow', key, severity: 'high', summary: key, node: null, ...(namespace && { namespace }), resolved: false, atMs: T0, detail: {} } });
  const events: { event: CollectorEvent; audience: Audience; mark: string }[] = [
    { event: { type: 'deviation.created', deviation: devA }, audience: STREAM_KINDS['deviation.created'], mark: `deviation:${devA.id}` },
    { event: { type: 'deviation.updated', deviation: devB }, audience: STREAM_KINDS['deviation.updated'], mark: `deviation:${devB.id}` },
    { event: { type: 'deviation.status', deviation: devA, previous: 'open', actor: 'x' }, audience: STREAM_KINDS['deviation.status'], mark: `deviation:${devA.id}` },
    { event: { type: 'baseline.changed', baseline: baselineB, previousPhase: 'learning' }, audience: STREAM_KINDS['baseline.changed'], mark: `baseline:${baselineB.id}` },
    { event: { type: 'agent.connected', agent }, audience: STREAM_KINDS['agent.connected'], mark: 'agent:node-9-a' },
    { event: { type: 'agent.disconnected', agent }, audience: STREAM_KINDS['agent.disconnected'], mark: 'agent:node-9-a' },
    { event: health('overflow-b', 'team-b'), audience: STREAM_KINDS.health, mark: 'health:overflow-b' },
    { event: health('overflow-a', 'team-a'), audience: 'team-a', mark: 'health:overflow-a' },
    { event: health('cluster-wide'), audience: 'unscoped', mark: 'health:cluster-wide' },
  ];
  // The matrix's namespaced kinds go to team-a or team-b as listed; both directions are covered.
  const clients = {
    'viewer of team-a': { token: (await h.store.tokens.create({ name: 'ws-a', role: 'viewer', namespaces: ['team-a'], createdBy: 'matrix' })).token, sees: ['team-a', 'all'] },
    'approver of team-b': { token: (await h.store.tokens.create({ name: 'ws-b', role: 'approver', namespaces: ['team-b'], createdBy: 'matrix' })).token, sees: ['team-b', 'all'] },
    'admin of team-a and team-b': { token: (await h.store.tokens.create({ name: 'ws-ab', role: 'admin', namespaces: ['team-a', 'team-b'], createdBy: 'matrix' })).token, sees: ['team-a', 'team-b', 'all'] },
    admin: { token: h.tokens.admin, sees: ['team-a', 'team-b', 'unscoped', 'all'] },
  };
  const received: Record<string, string[]> = {};
  for (const [name, c] of Object.entries(clients)) {
    const ws = new WebSocket(`${h.base.replace('http', 'ws')}/api/v1/stream`, ['driftwatch.v1', `bearer.${c.token}`]);
    t.teardown(() => ws.close());
    received[name] = [];
    ws.on('message', (data) => received[name]!.push(markOf(JSON.parse(String(data)) as Record<string, Record<string, unknown>>)));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
  }
  // Events reach each client in order: once a client has its own fence (the last event, in a
  // namespace it sees), it has everything emitted before.
  const settle = async (): Promise<void> => {
    for (const name of Object.keys(clients)) {
      for (const namespace of ['team-a', 'team-b']) h.bus.emit({ type: 'health', health: { kind: 'baseline-overflow', key: `fence-${name}`, severity: 'low', summary: '', node: null, namespace, resolved: false, atMs: T0, detail: {} } });
    }
    await eventually(() => Object.keys(clients).every((name) => received[name]!.includes(`health health:fence-${name}`)), 'every client read up to its fence');
  };
  for (const { event } of events) h.bus.emit(event);
  await settle();
  for (const [name, c] of Object.entries(clients)) {
    const expected = events.filter((e) => c.sees.includes(e.audience)).map((e) => `${e.event.type} ${e.mark}`);
    const got = received[name]!.filter((m) => !m.includes('fence') && m !== 'hello');
    t.same(got, expected, `${name} receives exactly: ${expected.join(', ') || 'nothing'}`);
  }
});

function markOf(m: Record<string, Record<string, unknown>>): string {
  const type = String(m.type);
  if (m.deviation) return `${type} deviation:${String(m.deviation.id)}`;
  if (m.baseline) return `${type} baseline:${String(m.baseline.id)}`;
  if (m.agent) return `${type} agent:${String(m.agent.instanceId)}`;
  if (m.health) return `${type} health:${String(m.health.key)}`;
  return type;
}
