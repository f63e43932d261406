import { connect as tcpConnect } from 'node:net';
import t from 'tap';
import { WebSocket } from 'ws';
import { MAX_PENDING_CLIENTS } from '../../../collector/api/stream.js';
import { HealthMonitor } from '../../../collector/health/monitor.js';
import { silentLogger } from '../../../common/logger.js';
import { HOUR, learnScene, proc, startHarness, T0, type Harness } from '../../helpers/api-harness.js';

interface Client {
  ws: WebSocket;
  messages: Record<string, unknown>[];
  next(type: string): Promise<Record<string, unknown>>;
}

function connect(h: Harness, protocols: string[]): Promise<Client> {
  const ws = new WebSocket(`${h.base.replace('http', 'ws')}/api/v1/stream`, protocols);
  const messages: Record<string, unknown>[] = [];
  const waiters: { type: string; resolve: (m: Record<string, unknown>) => void }[] = [];
  ws.on('message', (data) => {
    const m = JSON.parse(String(data)) as Record<string, unknown>;
    messages.push(m);
    for (const w of waiters.splice(0)) {
      if (m.type === w.type) w.resolve(m);
      else waiters.push(w);
    }
  });
  const client: Client = {
    ws,
    messages,
    next: (type) => {
      const seen = messages.find((m) => m.type === type);
      if (seen) {
        messages.splice(messages.indexOf(seen), 1);
        return Promise.resolve(seen);
      }
      return new Promise((resolve) =>
        waiters.push({
          type,
          resolve: (m) => {
            messages.splice(messages.indexOf(m), 1);
            resolve(m);
          },
        }),
      );
    },
  };
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(client));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

t.test('live stream: authenticated, scoped, lean events', async (t) => {
  const h = await startHarness(t);
  const { web, worker } = await learnScene(h);
  const admin = await connect(h, ['driftwatch.v1', `bearer.${h.tokens.admin}`]);
  t.teardown(() => admin.ws.close());
  t.equal(admin.ws.protocol, 'driftwatch.v1', 'the server never echoes the token protocol');
  t.equal((await admin.next('hello')).name, 'admin');

  const viaMessage = await connect(h, ['driftwatch.v1']);
  t.teardown(() => viaMessage.ws.close());
  viaMessage.ws.send(JSON.stringify({ type: 'auth', token: h.tokens.otherViewer }));
  t.same((await viaMessage.next('hello')).namespaces, ['team-b']);

  const d = await h.raise(proc(web, T0 + 3 * HOUR, '/usr/bin/wget', 'http://x'));
  const created = await admin.next('deviation.created');
  const wire = created.deviation as Record<string, unknown>;
  t.equal(wire.id, d.id);
  t.equal(wire.summary, d.summary);
  t.notOk('samples' in wire, 'no samples on the stream');

  const other = await h.raise(proc(worker, T0 + 3 * HOUR, '/usr/bin/nc'));
  const scoped = await viaMessage.next('deviation.created');
  t.equal((scoped.deviation as { id: number }).id, other.id, 'the team-b viewer gets team-b');
  t.notOk(
    viaMessage.messages.some((m) => (m.deviation as { id?: number } | undefined)?.id === d.id),
    'and never team-a',
  );

  await h.call('POST', `/api/v1/deviations/${d.id}/ack`, { body: { comment: 'mine' } });
  const status = await admin.next('deviation.status');
  t.same([status.previous, (status.deviation as { status: string }).status, status.actor], ['open', 'acknowledged', 'token:admin']);
  await h.call('POST', `/api/v1/baselines/${(await h.baselineOf(worker))}/approve`, { body: { version: 1, comment: 'reviewed the items' } });
  const changed = await admin.next('baseline.changed');
  t.equal((changed.baseline as { phase: string }).phase, 'approved');
});

t.test('live stream: bad or missing tokens are refused, never read from the URL', async (t) => {
  const h = await startHarness(t);
  await t.rejects(connect(h, ['driftwatch.v1', 'bearer.dw_' + 'x'.repeat(43)]), /HTTP 401/);
  const c = await connect(h, ['driftwatch.v1']);
  c.ws.send(JSON.stringify({ type: 'auth', token: 'nope' }));
  const err = await c.next('error');
  t.equal(err.code, 'DW_ERR_UNAUTHENTICATED');
  const code = await new Promise<number>((resolve) => c.ws.once('close', (n) => resolve(n)));
  t.equal(code, 4401);

  const url = new WebSocket(`${h.base.replace('http', 'ws')}/api/v1/stream?token=${h.tokens.admin}`, ['driftwatch.v1']);
  await new Promise((resolve) => url.once('open', resolve));
  url.send('{"type":"ping"}');
  const closed = await new Promise<number>((resolve) => url.once('close', (n) => resolve(n)));
  t.equal(closed, 4401, 'a token in the query string is ignored');

  // Revoking a token ends its live connection too.
  const made = (await h.store.tokens.create({ name: 'short-lived', role: 'viewer', createdBy: 'test' }));
  const live = await connect(h, ['driftwatch.v1', `bearer.${made.token}`]);
  await live.next('hello');
  await h.store.tokens.revoke(made.info.tokenId);
  t.equal(await new Promise<number>((resolve) => live.ws.once('close', (n) => resolve(n))), 4401, 'revoked while connected');
});

t.test('live stream: an upgrade to any other path is answered 404 and closed', async (t) => {
  const h = await startHarness(t);
  const port = Number(new URL(h.base).port);
  for (const path of ['/api/v1/nope', '/', '/ui/']) {
    const socket = tcpConnect(port, '127.0.0.1');
    t.teardown(() => socket.destroy());
    let received = '';
    socket.on('data', (c: Buffer) => (received += c.toString('utf8')));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
    // The socket is left open by the client: the server must let go of it.
    const outcome = await Promise.race([closed.then(() => 'closed'), new Promise((r) => setTimeout(() => r('still open'), 5000))]);
    t.equal(outcome, 'closed', `${path}: the server closed the socket`);
    t.match(received, /^HTTP\/1\.1 404 /, `${path}: 404`);
  }
});

t.test('live stream: connections waiting to authenticate have their own limit and never take a client place', async (t) => {
  const h = await startHarness(t, { overrides: { 'collector.api.stream.maxClients': 2 } });
  const pending: Client[] = [];
  for (let i = 0; i < 5; i++) pending.push(await connect(h, ['driftwatch.v1']));
  t.teardown(() => pending.forEach((c) => c.ws.close()));
  t.pass('five connections waiting to authenticate, more than maxClients');
  const admin = await connect(h, ['driftwatch.v1', `bearer.${h.tokens.admin}`]);
  t.teardown(() => admin.ws.close());
  t.equal((await admin.next('hello')).name, 'admin', 'a signed-in client still gets a place');
  const viewer = pending.pop()!;
  viewer.ws.send(JSON.stringify({ type: 'auth', token: h.tokens.viewer }));
  t.equal((await viewer.next('hello')).name, 'viewer', 'and one authenticating by message');
  await t.rejects(connect(h, ['driftwatch.v1', `bearer.${h.tokens.analyst}`]), /HTTP 503/, 'maxClients signed-in clients: the next is refused');
  const late = pending.pop()!;
  late.ws.send(JSON.stringify({ type: 'auth', token: h.tokens.analyst }));
  t.equal((await late.next('error')).code, 'DW_ERR_UNAVAILABLE');
  t.equal(await new Promise<number>((resolve) => late.ws.once('close', (n) => resolve(n))), 1013, 'no place left after authenticating: try again later');

  while (pending.length < MAX_PENDING_CLIENTS) pending.push(await connect(h, ['driftwatch.v1']));
  await t.rejects(connect(h, ['driftwatch.v1']), /HTTP 503/, `${MAX_PENDING_CLIENTS} waiting: the next unauthenticated one is refused`);
  const code = await new Promise<number>((resolve) => pending[0]!.ws.once('close', (n) => resolve(n)));
  t.equal(code, 4401, 'a connection that never authenticates is closed');
});

t.test('live stream: health reaches only who may see it, on both ways of signing in', async (t) => {
  const h = await startHarness(t);
  const { worker } = await learnScene(h);
  // The real producer of a workload's health: the monitor turns a baseline-overflow deviation of
  // team-b into a health event.
  const monitor = new HealthMonitor({
    bus: h.bus,
    agents: { list: async () => [] },
    settings: { checkIntervalMs: 3_600_000, disconnectedAfterMs: 60_000, forgetAfterMs: 86_400_000, silentAfterMs: 600_000, silentFactor: 4, dropRatio: 0.01, malformedRatio: 0.01, minEvents: 100 },
    now: () => T0 + 3 * HOUR,
    openKeys: async () => [],
    logger: silentLogger(),
  });
  await monitor.start();
  t.teardown(() => monitor.close());
  const admin = await connect(h, ['driftwatch.v1', `bearer.${h.tokens.admin}`]);
  const teamA = await connect(h, ['driftwatch.v1', `bearer.${h.tokens.scoped}`]);
  const teamB = await connect(h, ['driftwatch.v1']);
  teamB.ws.send(JSON.stringify({ type: 'auth', token: h.tokens.otherViewer }));
  const teamAByMessage = await connect(h, ['driftwatch.v1']);
  teamAByMessage.ws.send(JSON.stringify({ type: 'auth', token: h.tokens.scopedAnalyst }));
  const all = [admin, teamA, teamB, teamAByMessage];
  t.teardown(() => all.forEach((c) => c.ws.close()));
  for (const c of all) await c.next('hello');

  h.bus.emit({ type: 'deviation.created', deviation: { ...(await h.raise(proc(worker, T0 + 3 * HOUR, '/usr/bin/nc'))), kind: 'baseline-overflow' } });
  h.bus.emit({ type: 'health', health: { kind: 'agent-disconnected', key: 'agent-disconnected/test/node-9', severity: 'high', summary: 'agent on node-9 is disconnected', node: 'node-9', resolved: false, atMs: T0, detail: {} } });
  // Everyone receives agent connections: once this one arrives, everything before it has too.
  h.bus.emit({ type: 'agent.connected', agent: { instanceId: 'i-9', node: 'node-9', cluster: 'test', version: '0', sources: [], connected: true, firstSeenAt: '', lastSeenAt: '', counters: {} } });
  for (const c of all) await c.next('agent.connected');
  const health = (c: Client): string[] => c.messages.filter((m) => m.type === 'health').map((m) => (m.health as { key: string }).key);
  t.same(health(admin).sort(), ['agent-disconnected/test/node-9', 'baseline-overflow/test/team-b/Deployment/worker/app'], 'an unscoped token gets all health');
  t.same(health(teamB), ['baseline-overflow/test/team-b/Deployment/worker/app'], "team-b gets its workload's health, not the cluster's");
  t.same(health(teamA), [], 'team-a (token in the handshake) gets neither');
  t.same(health(teamAByMessage), [], 'team-a (token in the first message) gets neither');
  t.notOk(
    [teamA, teamAByMessage].some((c) => c.messages.some((m) => JSON.stringify(m).includes('team-b'))),
    'nothing of team-b reaches team-a',
  );
});
