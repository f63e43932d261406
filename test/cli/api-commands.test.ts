import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { main } from '../../cli/main.js';
import { clientFrom } from '../../cli/client.js';
import { terminalSafe } from '../../common/text.js';
import { SqliteStore } from '../../collector/store/sqlite/store.js';
import { HOUR, learnScene, proc, startHarness, T0, type Harness } from '../helpers/api-harness.js';

const EVIL = '<script>alert(1)</script> "><img src=x onerror=alert(2)> \u001b[2J\u001b]0;pwned\u0007 \u009b31m \u202eevil';

/** Runs the CLI in-process, capturing stdout and stderr. */
async function run(h: Harness | null, args: string[], token?: string): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const origOut = process.stdout.write.bind(process.stdout);
  const origErr = process.stderr.write.bind(process.stderr);
  const env = { DRIFTWATCH_SERVER: process.env.DRIFTWATCH_SERVER, DRIFTWATCH_TOKEN: process.env.DRIFTWATCH_TOKEN };
  if (h) {
    process.env.DRIFTWATCH_SERVER = h.base;
    process.env.DRIFTWATCH_TOKEN = token ?? h.tokens.admin;
  }
  process.stdout.write = ((chunk: string | Uint8Array) => (out.push(String(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => (err.push(String(chunk)), true)) as typeof process.stderr.write;
  try {
    const code = await main(['node', 'driftwatch', ...args]);
    return { code, out: out.join(''), err: err.join('') };
  } finally {
    process.stdout.write = origOut;
    process.stderr.write = origErr;
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
}

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

t.test('baseline list / show / diff / approve / reject / export', async (t) => {
  const h = await startHarness(t);
  const { web, worker } = await learnScene(h);
  const id = await h.baselineOf(web);
  const list = await run(h, ['baseline', 'list']);
  t.equal(list.code, 0, list.err);
  t.match(list.out, new RegExp(`${id}\\s+team-a\\s+web\\s+app\\s+active\\s+v1\\s+5\\s+0`));
  const show = await run(h, ['baseline', 'show', String(id)]);
  t.match(show.out, /p\|\/usr\/sbin\/nginx\s+learned\s+1/);
  t.equal((await run(h, ['baseline', 'approve', String(id)])).code, 1, 'approve needs the reviewed version');
  const approve = await run(h, ['baseline', 'approve', String(id), '--reviewed-version', '1', '-m', 'reviewed'], h.tokens.approver);
  t.equal(approve.out, `baseline ${id} v1 team-a/web/app: approved\n`);
  const d = await h.raise(proc(web, T0 + 3 * HOUR, '/usr/bin/extra'));
  await h.call('POST', `/api/v1/deviations/${d.id}/add-to-baseline`, { body: { comment: 'expected' } });
  const diff = await run(h, ['baseline', 'diff', String(id), '--against', 'approved']);
  t.equal(diff.out, '--- approved v1\n+++ v2\n+ p|/usr/bin/extra  (manual, seen 1×)\n1 added, 0 removed, 5 unchanged\n');
  const dry = await run(h, ['baseline', 'approve', '--namespace', 'team-b', '--dry-run', '-m', 'release 7']);
  t.match(dry.out, /would approve baseline \d+ v1 team-b\/worker\/app\n1 baseline\(s\) \(dry run\)/);
  const reject = await run(h, ['baseline', 'reject', String((await h.baselineOf(worker))), '--reviewed-version', '1', '-m', 'learned during an incident']);
  t.match(reject.out, /: rejected\n$/);
  await run(h, ['baseline', 'approve', String(id), '--reviewed-version', '2', '-m', 'ok']);
  const exported = await run(h, ['baseline', 'export', String(id), '--format', 'networkpolicy']);
  t.equal(exported.code, 0, exported.err);
  t.match(exported.out, /^apiVersion: networking\.k8s\.io\/v1\nkind: NetworkPolicy\n/);
  const file = join(t.testdir({}), 'falco.yaml');
  t.equal((await run(h, ['baseline', 'export', String(id), '--format', 'falco', '-o', file])).code, 0);
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
  const created = await run(null, ['token', 'create', '--name', 'alice', '--role', 'approver', '--namespaces', 'shop,payments', '--config', config]);
  t.equal(created.code, 0, created.err);
  const token = created.out.trim();
  t.match(token, /^dw_[A-Za-z0-9_-]{43}$/);
  t.match(created.err, /not shown again/);
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
  t.equal((await run(null, ['token', 'revoke', 'alice', '--config', config])).code, 0);
  const store2 = new SqliteStore({ dataDir: join(dir, 'data') });
  t.equal(await store2.tokens.verify(token), undefined, 'revoked');
  await store2.close();
});
