/** Token administration within a scope, and what the failed-authentication limit may refuse. */
import t from 'tap';
import { WebSocket } from 'ws';
import { startHarness } from '../../helpers/api-harness.js';

t.test('a namespace-scoped admin administers only tokens within its namespaces', async (t) => {
  const h = await startHarness(t);
  const scopedAdmin = (await h.store.tokens.create({ name: 'team-a-admin', role: 'admin', namespaces: ['team-a', 'team-c'], createdBy: 'test' })).token;
  const create = (body: Record<string, unknown>, token = scopedAdmin) => h.call('POST', '/api/v1/tokens', { token, body });

  const unscoped = await create({ name: 'sneaky', role: 'admin' });
  t.equal(unscoped.status, 403, 'no unscoped token from a scoped admin');
  t.equal(unscoped.body.code, 'DW_ERR_FORBIDDEN_SCOPE');
  t.equal((await create({ name: 'wider', role: 'viewer', namespaces: ['team-a', 'team-b'] })).status, 403, 'no namespace outside its own');
  t.equal((await create({ name: 'empty', role: 'viewer', namespaces: [] })).status, 400, 'an empty list is not "every namespace"');
  t.equal((await create({ name: 'empty-2', role: 'viewer', namespaces: [] }, h.tokens.admin)).status, 400, 'not from an unscoped admin either');
  t.notOk(
    (await h.store.tokens.list()).some((i) => ['sneaky', 'wider', 'empty', 'empty-2'].includes(i.name)),
    'none of the refused tokens exists',
  );
  const inside = await create({ name: 'team-a-ci', role: 'analyst', namespaces: ['team-a'] });
  t.equal(inside.status, 200, 'a subset of its own namespaces is fine');
  t.same(inside.body.info.namespaces, ['team-a']);

  const listed = await h.call('GET', '/api/v1/tokens', { token: scopedAdmin });
  t.same(
    listed.body.items.map((i: { name: string }) => i.name).sort(),
    ['team-a', 'team-a-admin', 'team-a-analyst', 'team-a-ci'],
    'it lists only tokens within team-a / team-c (not the unscoped ones, not team-b)',
  );
  t.ok((await h.call('GET', '/api/v1/tokens')).body.items.length > listed.body.items.length, 'an unscoped admin lists every token');

  const idOf = async (name: string): Promise<number> => (await h.store.tokens.list()).find((i) => i.name === name)!.tokenId;
  for (const name of ['admin', 'team-b-viewer']) {
    const r = await h.call('DELETE', `/api/v1/tokens/${await idOf(name)}`, { token: scopedAdmin });
    t.same([r.status, r.body], [404, { code: 'DW_ERR_NOT_FOUND', message: `no token ${await idOf(name)}` }], `cannot revoke ${name}, nor learn that it exists`);
    t.equal((await h.store.tokens.get(await idOf(name)))!.revokedAt, null, `${name} still works`);
  }
  t.equal((await h.call('DELETE', `/api/v1/tokens/${inside.body.info.tokenId}`, { token: scopedAdmin })).status, 200, 'revokes one within its scope');
});

t.test('SqlTokens refuses an explicitly empty namespace list', async (t) => {
  const h = await startHarness(t);
  await t.rejects(h.store.tokens.create({ name: 'nobody', role: 'viewer', namespaces: [], createdBy: 'test' }), /at least one namespace/);
  t.equal((await h.store.tokens.create({ name: 'everyone', role: 'viewer', namespaces: null, createdBy: 'test' })).info.namespaces, null, 'null still means every namespace');
});

t.test('failed authentications never lock out valid tokens from the same address', async (t) => {
  const h = await startHarness(t, { authFailuresPerMinute: 5 });
  const bad = 'dw_' + 'C'.repeat(43);
  const statuses: number[] = [];
  for (let i = 0; i < 8; i++) statuses.push((await h.call('GET', '/api/v1/me', { token: bad })).status);
  t.same(statuses, [401, 401, 401, 401, 401, 429, 429, 429], 'wrong tokens: 401, then 429 over the limit');
  const me = await h.call('GET', '/api/v1/me', { token: h.tokens.viewer });
  t.equal(me.status, 200, 'a valid token from the same address still gets in');
  t.equal(me.body.name, 'viewer');
  t.equal((await h.call('GET', '/api/v1/me', { token: null })).status, 401, 'no token at all: 401, not 429');

  const ws = new WebSocket(`${h.base.replace('http', 'ws')}/api/v1/stream`, ['driftwatch.v1', `bearer.${h.tokens.admin}`]);
  t.teardown(() => ws.close());
  const hello = await new Promise<Record<string, unknown>>((resolve, reject) => {
    ws.once('message', (data) => resolve(JSON.parse(String(data)) as Record<string, unknown>));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
  t.match(hello, { type: 'hello', name: 'admin' }, 'the live stream too');
  t.equal((await h.call('GET', '/api/v1/me', { token: bad })).status, 429, 'the wrong token is still refused');
});
