/**
 * GET /api/v1/agents is keyset-paged: a fleet's history of agent instances never comes back in one
 * response, and following `next` returns every instance exactly once, also while agents connect.
 */
import t from 'tap';
import { startHarness } from '../../helpers/api-harness.js';

const AGENTS = 1234;

t.test('agents: pages of at most `limit`, whose union is every agent instance exactly once', async (t) => {
  const h = await startHarness(t);
  const at = new Date().toISOString();
  for (let i = 0; i < AGENTS; i++) {
    const node = `node-${String(i % 300).padStart(3, '0')}`;
    await h.store.agents.hello({ instanceId: `${node}-${i}`, node, cluster: 'test', version: '1', sources: ['tetragon-grpc'] }, at);
  }

  const seen: string[] = [];
  let cursor: string | null = '';
  let pages = 0;
  while (cursor !== null && pages < 100) {
    const r = await h.call('GET', `/api/v1/agents?limit=100${cursor ? `&cursor=${cursor}` : ''}`, { token: h.tokens.viewer });
    t.equal(r.status, 200);
    t.ok(r.body.items.length <= 100, 'a page holds at most `limit` agents');
    seen.push(...r.body.items.map((a: { instanceId: string }) => a.instanceId));
    cursor = r.body.next ?? null;
    pages++;
    // An agent that connects meanwhile, sorted before the cursor, moves nothing already listed.
    if (pages === 3) await h.store.agents.hello({ instanceId: 'node-000-late', node: 'node-000', cluster: 'test', version: '1', sources: [] }, at);
  }
  t.equal(pages, Math.ceil(AGENTS / 100));
  t.equal(seen.length, AGENTS, 'every agent once');
  t.equal(new Set(seen).size, AGENTS, 'none twice');
  t.notOk(seen.includes('node-000-late'), 'one that arrived behind the cursor waits for the next walk');

  const first = await h.call('GET', '/api/v1/agents', { token: h.tokens.viewer });
  t.equal(first.body.items.length, 50, 'default page size');
  t.match(first.body.items[0], { node: 'node-000', health: 'ok' });
  const capped = await h.call('GET', '/api/v1/agents?limit=5000', { token: h.tokens.viewer });
  t.equal(capped.body.items.length, h.config.collector.api.maxPageSize, 'capped by collector.api.maxPageSize');
  t.equal((await h.call('GET', '/api/v1/agents?cursor=bm90LWpzb24', { token: h.tokens.viewer })).body.code, 'DW_ERR_BAD_CURSOR');
  const foreign = Buffer.from(JSON.stringify({ s: '-created', k: 1, i: 1 })).toString('base64url');
  t.equal((await h.call('GET', `/api/v1/agents?cursor=${foreign}`, { token: h.tokens.viewer })).status, 400, 'a cursor of another list is refused');

  const overview = await h.call('GET', '/api/v1/overview', { token: h.tokens.viewer });
  t.same(overview.body.agents, { ok: AGENTS + 1, stale: 0, disconnected: 0 }, 'the overview counts agents in the database');
});
