/** `driftwatch agents list` follows the API's pages: one page with a `more:` hint, or every page with --all. */
import t from 'tap';
import { parse as parseYaml } from 'yaml';
import { startHarness } from '../helpers/api-harness.js';
import { run } from '../helpers/cli-run.js';

t.test('agents list: a page and the way on; --all walks every page, each agent once', async (t) => {
  const h = await startHarness(t);
  const at = new Date().toISOString();
  for (let i = 0; i < 25; i++) await h.store.agents.hello({ instanceId: `node-${i}-a`, node: `node-${i}`, cluster: 'test', version: '1.2.3', sources: ['tetragon-grpc'] }, at);

  const one = await run(h, ['agents', 'list', '--limit', '10']);
  t.equal(one.code, 0, one.err);
  t.match(one.out, /^NODE\s+INSTANCE\s+HEALTH\s+VERSION\s+SOURCES\s+LAST SEEN\n/);
  t.equal(one.out.split('\n').filter((l) => l.startsWith('node-')).length, 10);
  const next = /more: --cursor (\S+) \(or --all\)/.exec(one.out)?.[1];
  t.ok(next, 'says how to go on');
  const two = await run(h, ['agents', 'list', '--limit', '10', '--cursor', next!, '-o', 'name']);
  t.equal(two.out.split('\n').filter((l) => l.startsWith('agent/')).length, 10);

  const all = await run(h, ['agents', 'list', '--limit', '10', '--all', '-o', 'name']);
  const names = all.out.split('\n').filter(Boolean);
  t.equal(names.length, 25);
  t.equal(new Set(names).size, 25, 'every agent exactly once across the pages');
  t.notMatch(all.out, /more:/);

  // -o json | yaml parse, and carry the page's cursor.
  const json = JSON.parse((await run(h, ['agents', 'list', '--limit', '10', '-o', 'json'])).out) as { items: { node: string }[]; next: string | null };
  t.equal(json.items.length, 10);
  t.ok(json.next, 'the JSON names the next page');
  const yaml = parseYaml((await run(h, ['agents', 'list', '--all', '-o', 'yaml'])).out) as { items: { node: string }[] };
  t.equal(new Set(yaml.items.map((a) => a.node)).size, 25, 'YAML of every page parses, each agent once');
});
