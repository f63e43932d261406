import { existsSync, writeFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { join } from 'node:path';
import t from 'tap';
import { clientFrom } from '../../cli/client.js';
import { terminalSafe } from '../../common/text.js';
import { SqliteStore } from '../../collector/store/sqlite/store.js';
import { HOUR, learnScene, proc, startHarness, T0 } from '../helpers/api-harness.js';
import { run } from '../helpers/cli-run.js';

const EVIL = '<script>alert(1)</script> "><img src=x onerror=alert(2)> \u001b[2J\u001b]0;pwned\u0007 \u009b31m \u202eevil';

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/;

t.test('deviations list / show / ack / resolve, with attacker strings made inert', async (t) => {
  const h = await startHarness(t);
  const { web } = await learnScene(h);
  const d = await h.raise(proc(web, T0 + 3 * HOUR, '/tmp/x', EVIL, { parent: '/bin/bash' }));
  const list = await run(h, ['deviations', 'list', '--namespace', 'team-a']);
  t.equal(list.code, 0, list.err);
  t.match(list.out, /^ID\s+SEVERITY\s+STATUS\s+WORKLOAD/);
  t.match(list.out, 'team-a/web/app');
  t.notMatch(list.out, CONTROL, 'no control or bidi character reaches the terminal');
  const show = await run(h, ['deviations', 'show', String(d.id)]);
  t.equal(show.code, 0, show.err);
  t.notMatch(show.out, CONTROL);
  t.match(show.out, /process lineage \(entrypoint first\):\n {2}\/usr\/bin\/tini --\n {4}\/bin\/bash -c start\n {6}→ \/tmp\/x <script>alert\(1\)<\/script>/);
  t.match(show.out, '\\u202eevil');
  // The collector's own link (built from collector.http.externalUrl: test/ui/cli-links.test.ts opens it).
  const link = (await h.call('GET', `/api/v1/deviations/${d.id}`)).body.links.deviation as string;
  t.match(show.out, `console     ${link}\n`, 'the link the collector builds, the same as its alerts');
  t.match(show.out, '\\x1b[2J\\x1b]0;pwned\\x07 \\x9b31m', 'escape sequences are shown, escaped');
  const json = await run(h, ['deviations', 'show', String(d.id), '--json']);
  t.notMatch(json.out, CONTROL, 'JSON output escapes them too');
  t.equal(JSON.parse(json.out).samples[0].process.args, EVIL, 'and stays exact JSON');
  const ack = await run(h, ['deviations', 'ack', String(d.id), '-m', 'looking'], h.tokens.analyst);
  t.equal(ack.out, `deviation ${d.id}: acknowledged\n`);
  t.equal((await run(h, ['deviations', 'resolve', String(d.id)], h.tokens.viewer)).code, 1, 'a viewer cannot resolve');
  t.match((await run(h, ['deviations', 'resolve', String(d.id)], h.tokens.viewer)).err, /DW_ERR_FORBIDDEN_ROLE/);
  t.equal((await run(h, ['deviations', 'resolve', String(d.id)], h.tokens.analyst)).code, 0);
  const filtered = await run(h, ['deviations', 'list', '--status', 'resolved', '--json']);
  t.same(JSON.parse(filtered.out).items.map((i: { id: number }) => i.id), [d.id]);
});

t.test('baseline relearn: one baseline, or every enforced one of a namespace', async (t) => {
  const h = await startHarness(t);
  const { web, worker } = await learnScene(h);
  const dry = await run(h, ['baseline', 'relearn', '--namespace', 'team-a', '--dry-run', '-m', 'SEC-12 new job images'], h.tokens.approver);
  t.equal(dry.code, 0, dry.err);
  t.match(dry.out, /would relearn baseline \d+ team-a\/web\/app\n1 baseline\(s\) \(dry run\)\n$/);
  const done = await run(h, ['baseline', 'relearn', '--namespace', 'team-a', '-m', 'SEC-12 new job images'], h.tokens.approver);
  t.match(done.out, /learning again: baseline \d+ team-a\/web\/app\n1 baseline\(s\)\n$/);
  t.equal((await h.engine.currentBaseline(web))!.phase, 'learning');
  t.equal((await run(h, ['baseline', 'relearn', '-m', 'SEC-12 new job images'])).code, 1, 'an id or --namespace');
  const one = await run(h, ['baseline', 'relearn', String(await h.baselineOf(worker)), '-m', 'learned during an incident'], h.tokens.approver);
  t.match(one.out, /team-b\/worker\/app: learning \(generation 2\)\n$/);
  const refused = await run(h, ['baseline', 'relearn', '--namespace', 'team-b', '-m', 'SEC-12 new job images'], h.tokens.scopedAnalyst);
  t.equal(refused.code, 1, 'refused (scopes per namespace: test/faults/authz-matrix.test.ts)');
  t.match(refused.err, /DW_ERR_FORBIDDEN/);
});

t.test('baseline list / show / diff / approve / reject / export', async (t) => {
  const h = await startHarness(t);
  const { web, worker } = await learnScene(h);
  const id = await h.baselineOf(web);
  const list = await run(h, ['baseline', 'list']);
  t.equal(list.code, 0, list.err);
  t.match(list.out, new RegExp(`${id}\\s+team-a\\s+web\\s+app\\s+active\\s+v1\\s+5\\s+0`));
  const show = await run(h, ['baseline', 'show', String(id)]);
  t.match(show.out, /p\|\/usr\/sbin\/nginx\s+learned\s+1/);
  t.equal((await run(h, ['baseline', 'approve', String(id), '-m', 'reviewed the items'])).code, 1, 'approve needs the reviewed version');
  const approve = await run(h, ['baseline', 'approve', String(id), '--reviewed-version', '1', '-m', 'reviewed the items'], h.tokens.approver);
  t.equal(approve.out, `baseline ${id} v1 team-a/web/app: approved\n`);
  const d = await h.raise(proc(web, T0 + 3 * HOUR, '/usr/bin/extra'));
  await h.call('POST', `/api/v1/deviations/${d.id}/add-to-baseline`, { body: { comment: 'expected by the team' } });
  const diff = await run(h, ['baseline', 'diff', String(id), '--against', 'approved']);
  t.equal(diff.out, '--- approved v1\n+++ v2\n+ p|/usr/bin/extra  (manual, seen 1×)\n1 added, 0 removed, 5 unchanged\n');
  const dry = await run(h, ['baseline', 'approve', '--namespace', 'team-b', '--dry-run', '-m', 'release 7 rollout']);
  t.match(dry.out, /would approve baseline \d+ v1 team-b\/worker\/app\n1 baseline\(s\) \(dry run\)/);
  const reject = await run(h, ['baseline', 'reject', String((await h.baselineOf(worker))), '--reviewed-version', '1', '-m', 'learned during an incident']);
  t.match(reject.out, /: rejected\n$/);
  await run(h, ['baseline', 'approve', String(id), '--reviewed-version', '2', '-m', 'reviewed v2 ok']);
  const exported = await run(h, ['baseline', 'export', String(id), '--format', 'networkpolicy']);
  t.equal(exported.code, 0, exported.err);
  t.match(exported.out, /^apiVersion: networking\.k8s\.io\/v1\nkind: NetworkPolicy\n/);
  const file = join(t.testdir({}), 'falco.yaml');
  t.equal((await run(h, ['baseline', 'export', String(id), '--format', 'falco', '-o', file])).code, 0);
  const audit = await run(h, ['baseline', 'export', String(id), '--format', 'tetragon']);
  t.equal(audit.code, 0, audit.err);
  t.match(audit.out, /^apiVersion: cilium\.io\/v1alpha1\nkind: TracingPolicyNamespaced\n/);
  t.match(audit.out, /- action: Post\n/, 'audits by default');
  const enforce = await run(h, ['baseline', 'export', String(id), '--format', 'tetragon', '--sigkill']);
  t.equal(enforce.code, 0, enforce.err);
  t.match(enforce.out, /- action: Sigkill\n/, '--sigkill opts in to killing');
  const misplaced = await run(h, ['baseline', 'export', String(id), '--format', 'networkpolicy', '--sigkill']);
  t.equal(misplaced.code, 1, '--sigkill with another format is an error, not ignored');
  t.match(misplaced.err, /action applies to format=tetragon only/);
});

t.test('the client refuses plaintext tokens to remote servers and needs a token', async (t) => {
  t.throws(() => clientFrom({ server: 'http://collector.example.com:8080', token: 'dw_x' }, {}), /refusing to send a token over plain http/);
  t.ok(clientFrom({ server: 'http://collector.example.com:8080', token: 'dw_x', insecure: true }, {}));
  t.ok(clientFrom({ server: 'https://collector.example.com', token: 'dw_x' }, {}));
  t.ok(clientFrom({ server: 'http://[::1]:8080', token: 'dw_x' }, {}));
  t.ok(clientFrom({}, { DRIFTWATCH_TOKEN: 'dw_x' }), 'defaults to the loopback collector');
  t.throws(() => clientFrom({ server: 'http://127.0.0.1:1' }, {}), /an API token is needed/);
  t.equal(terminalSafe('a\u001b[31mb\u0007c'), 'a\\x1b[31mb\\x07c');
  const r = await run(null, ['deviations', 'list', '--server', 'http://127.0.0.1:1', '--token', 'dw_x']);
  t.equal(r.code, 1);
  t.match(r.err, /cannot reach http:\/\/127\.0\.0\.1:1/);
  const withCredentials = await run(null, ['deviations', 'list', '--server', 'http://proxy-user:proxy-pa55@127.0.0.1:1/?key=k3y-secret', '--token', 'dw_x']);
  t.equal(withCredentials.code, 1);
  t.match(withCredentials.err, 'cannot reach http://<redacted>@127.0.0.1:1/?key=<redacted>');
  for (const s of ['proxy-user', 'proxy-pa55', 'k3y-secret']) t.notMatch(withCredentials.err, s, `the error shows no ${s}`);
});

t.test('token create / list / revoke on the collector database', async (t) => {
  const dir = t.testdir({});
  const config = join(dir, 'collector.yaml');
  writeFileSync(config, `collector:\n  dataDir: ${join(dir, 'data')}\n`);
  // No collector has run there yet: refused, nothing created, and the message says where it looked.
  const missing = await run(null, ['token', 'create', '--name', 'alice', '--role', 'approver', '--config', config]);
  t.equal(missing.code, 1);
  t.match(missing.err, `no collector database at ${join(dir, 'data', 'driftwatch.db')} (collector.dataDir in ${config})`);
  t.notOk(existsSync(join(dir, 'data')), 'no database is created');
  const cwd = process.cwd();
  process.chdir(dir);
  const noConfig = await run(null, ['token', 'create', '--name', 'alice', '--role', 'approver']).finally(() => process.chdir(cwd));
  t.match(noConfig.err, /no collector database at .*data\/driftwatch\.db \(the default collector\.dataDir \(no --config given\)\)/);
  t.notOk(existsSync(join(dir, 'data')), 'no ./data either');
  await new SqliteStore({ dataDir: join(dir, 'data') }).close(); // the collector starts and creates it
  const created = await run(null, ['token', 'create', '--name', 'alice', '--role', 'approver', '--namespaces', 'shop,payments', '--config', config]);
  t.equal(created.code, 0, created.err);
  const token = created.out.trim();
  t.match(token, /^dw_[A-Za-z0-9_-]{43}$/);
  t.match(created.err, /not shown again/);
  t.match(created.err, `using the collector database ${join(dir, 'data', 'driftwatch.db')} (collector.dataDir in ${config})`);
  t.equal((await run(null, ['token', 'create', '--name', 'bob', '--role', 'root', '--config', config])).code, 1);
  t.equal((await run(null, ['token', 'create', '--name', 'alice', '--role', 'viewer', '--config', config])).code, 1, 'names are unique');
  for (const empty of ['', ',', ' , ']) {
    const refused = await run(null, ['token', 'create', '--name', 'nobody', '--role', 'admin', '--namespaces', empty, '--config', config]);
    t.equal(refused.code, 1, `--namespaces ${JSON.stringify(empty)} is refused, not read as every namespace`);
    t.match(refused.err, /at least one namespace/);
  }
  const store = new SqliteStore({ dataDir: join(dir, 'data') });
  t.same(await store.tokens.verify(token), { tokenId: 1, name: 'alice', role: 'approver', namespaces: ['payments', 'shop'] });
  t.equal(store.connection.get<{ action: string }>('SELECT action FROM audit_log')!.action, 'token.create');
  await store.close();
  const list = await run(null, ['token', 'list', '--config', config]);
  t.match(list.out, /1\s+alice\s+approver\s+payments,shop/);
  t.notMatch(list.out, token.slice(3, 20));
  t.same(JSON.parse((await run(null, ['token', 'list', '--data-dir', join(dir, 'data'), '-o', 'json'])).out).map((i: { name: string }) => i.name), ['alice']);
  t.same((parseYaml((await run(null, ['token', 'list', '--config', config, '-o', 'yaml'])).out) as { name: string }[]).map((i) => i.name), ['alice']);
  t.equal((await run(null, ['token', 'list', '--config', config, '-o', 'name'])).out, 'token/alice\n');
  t.match((await run(null, ['token', 'list', '--config', config, '-o', 'wide'])).out, /CREATED BY\s+EXPIRES/);
  t.equal((await run(null, ['token', 'revoke', 'alice', '--config', config])).code, 0);
  const store2 = new SqliteStore({ dataDir: join(dir, 'data') });
  t.equal(await store2.tokens.verify(token), undefined, 'revoked');
  await store2.close();
});

t.test('-o json | yaml | name | wide on every list and get command: parseable, exact, terminal-safe', async (t) => {
  const h = await startHarness(t);
  const { web } = await learnScene(h);
  const d = await h.raise(proc(web, T0 + 3 * HOUR, '/tmp/x', EVIL, { parent: '/bin/bash' }));
  const id = await h.baselineOf(web);
  const commands: [string[], (v: unknown) => void][] = [
    [['deviations', 'list'], (v) => t.same((v as { items: { id: number }[] }).items.map((i) => i.id), [d.id])],
    [['deviations', 'show', String(d.id)], (v) => t.equal((v as { samples: { process: { args: string } }[] }).samples[0]!.process.args, EVIL, 'attacker text survives exactly')],
    [['baseline', 'list'], (v) => t.ok((v as { baseline: { id: number } }[]).some((w) => w.baseline.id === id))],
    [['baseline', 'show', String(id)], (v) => t.equal((v as { baseline: { id: number } }).baseline.id, id)],
    [['baseline', 'diff', String(id)], (v) => t.ok(Array.isArray((v as { added: unknown[] }).added))],
  ];
  for (const [args, check] of commands) {
    for (const format of ['json', 'yaml']) {
      const r = await run(h, [...args, '-o', format]);
      t.equal(r.code, 0, `${args.join(' ')} -o ${format}: ${r.err}`);
      t.notMatch(r.out, CONTROL, `${args.join(' ')} -o ${format}: no control or bidi character`);
      check(format === 'json' ? JSON.parse(r.out) : parseYaml(r.out));
    }
  }
  t.equal((await run(h, ['deviations', 'list', '-o', 'name'])).out, `deviation/${d.id}\n`);
  t.equal((await run(h, ['deviations', 'show', String(d.id), '-o', 'name'])).out, `deviation/${d.id}\n`);
  t.match((await run(h, ['baseline', 'list', '-o', 'name'])).out, `baseline/${id}\n`);
  t.equal((await run(h, ['baseline', 'show', String(id), '-o', 'name'])).out, `baseline/${id}\n`);
  const wide = await run(h, ['deviations', 'list', '-o', 'wide']);
  t.match(wide.out, /FIRST SEEN\s+LAST SEEN\s+SUMMARY\s+CONSOLE/);
  t.match(wide.out, (await h.call('GET', `/api/v1/deviations/${d.id}`)).body.links.deviation as string);
  t.match((await run(h, ['baseline', 'list', '-o', 'wide'])).out, /KIND\s+COMPLETENESS\s+DECIDED BY/);
  t.same(JSON.parse((await run(h, ['deviations', 'list', '--json'])).out), JSON.parse((await run(h, ['deviations', 'list', '-o', 'json'])).out), '--json is -o json');
  const bad = await run(h, ['deviations', 'list', '-o', 'xml']);
  t.equal(bad.code, 1);
  t.match(bad.err, '-o/--output: use one of table, wide, json, yaml, name (got "xml")');
});
