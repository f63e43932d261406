/**
 * `driftwatch baseline propose --open-pr`: the proposed change opened as a pull request (GitHub)
 * and a merge request (GitLab) on a protocol-faithful fake forge (test/helpers/fake-forge.ts).
 * The branch holds exactly what `git apply` of the printed patch gives, the collector loads it,
 * the description carries the evidence and the patch (attacker text cannot end its code blocks),
 * a later version updates the same file, and the token travels only in the forge's header.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import t from 'tap';
import { DeclaredBaselines } from '../../collector/baselines/declared.js';
import { packagePath } from '../../common/paths.js';
import { fenced } from '../../cli/propose.js';
import { FakeForge } from '../helpers/fake-forge.js';
import { HOUR, learnScene, proc, startHarness, T0, type Harness } from '../helpers/api-harness.js';
import { run } from '../helpers/cli-run.js';

const TOKEN = 'ghp_forgeSecret0123456789';
/** A path (paths are what the declared file keeps) that tries to end the Markdown code block. */
const TICKS = '/tmp/x```\n# injected heading\n<img src=x onerror=alert(1)>';

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=test', '-c', 'user.email=test@driftwatch.invalid', ...args], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

async function inRepo<T>(repo: string, fn: () => Promise<T>): Promise<T> {
  const cwd = process.cwd();
  process.chdir(repo);
  try {
    return await fn();
  } finally {
    process.chdir(cwd);
  }
}

/** The collector's loader over a branch's baselines/ files. */
function loads(dir: string, files: Map<string, string>): string[] {
  for (const [path, text] of files) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return new DeclaredBaselines({ dir: join(dir, 'baselines') }).reload().errors.map(String);
}

for (const kind of ['github', 'gitlab'] as const) {
  t.test(`${kind}: propose --open-pr opens the change with its evidence; a new version updates the file`, async (t) => {
    const h: Harness = await startHarness(t);
    const { web } = await learnScene(h);
    const id = await h.baselineOf(web);
    const repo = t.testdir({ 'forge-token': `${TOKEN}\n` });
    cpSync(packagePath('baselines'), join(repo, 'baselines'), { recursive: true });
    git(repo, 'init', '-q');
    git(repo, 'add', 'baselines');
    git(repo, 'commit', '-qm', 'baselines');
    const seed = Object.fromEntries((readdirSync(join(repo, 'baselines'), { recursive: true }) as string[]).filter((f) => statSync(join(repo, 'baselines', f)).isFile()).map((f) => [`baselines/${f}`, readFileSync(join(repo, 'baselines', f), 'utf8')]));
    const forge = new FakeForge(kind, kind === 'github' ? 'acme/platform' : 'acme/infra/platform', TOKEN, seed);
    await forge.start();
    t.teardown(() => forge.close());
    const propose = () =>
      inRepo(repo, () => run(h, ['baseline', 'propose', String(id), '--open-pr', '--forge', kind, '--forge-url', forge.apiUrl, '--repo', forge.repo, '--forge-token-file', 'forge-token']));

    const first = await propose();
    t.equal(first.code, 0, first.err);
    t.match(first.err, kind === 'github' ? 'opened pull request #1 (driftwatch/team-a-web-app-v1 → main)' : 'opened merge request !1 (driftwatch/team-a-web-app-v1 → main)');
    const change = forge.changes[0]!;
    t.match(change, { head: 'driftwatch/team-a-web-app-v1', base: 'main', title: `Declared baseline for team-a-web-app (driftwatch baseline ${id} v1)` });
    // The branch holds exactly what git apply of the printed patch gives; the collector loads it.
    writeFileSync(join(repo, 'change.patch'), first.out);
    git(repo, 'apply', 'change.patch');
    const branch = forge.files(change.head)!;
    t.equal(branch.get('baselines/team-a-web-app.yaml'), readFileSync(join(repo, 'baselines/team-a-web-app.yaml'), 'utf8'), 'the branch has what git apply gives');
    t.same(loads(join(repo, 'checked', '1'), branch), [], 'the collector accepts the branch');
    t.equal(forge.files('main')!.has('baselines/team-a-web-app.yaml'), false, 'the base branch is untouched');
    // The description: evidence and the patch itself.
    t.match(change.body, /workload\s+team-a\/web\/app/);
    t.match(change.body, new RegExp(`console\\s+http://\\S+/ui/baselines/${id}\\n`), 'and a link to it');
    t.match(change.body, '```diff\n' + first.out);
    git(repo, 'add', 'baselines');
    git(repo, 'commit', '-qm', 'web baseline');
    forge.merge(change);

    // A person adds an item whose arguments try to end the Markdown code block: v2 updates the file.
    const d = await h.raise(proc(web, T0 + 3 * HOUR, TICKS));
    await h.call('POST', `/api/v1/deviations/${d.id}/add-to-baseline`, { body: { comment: 'migrations ```run``` at every release' } });
    const second = await propose();
    t.equal(second.code, 0, second.err);
    const update = forge.changes[1]!;
    t.equal(update.head, 'driftwatch/team-a-web-app-v2');
    const updated = forge.files(update.head)!.get('baselines/team-a-web-app.yaml')!;
    t.match(updated, '/tmp/x```', 'the same file, updated');
    // Refusals say why: a wrong token, a branch that exists, no token at all.
    writeFileSync(join(repo, 'wrong-token'), 'glpat-wrong');
    const wrong = await inRepo(repo, () => run(h, ['baseline', 'propose', String(id), '--open-pr', '--forge', kind, '--forge-url', forge.apiUrl, '--repo', forge.repo, '--forge-token-file', 'wrong-token', '--branch', 'other']));
    t.equal(wrong.code, 1);
    t.match(wrong.err, 'HTTP 401');
    t.notMatch(wrong.err, 'glpat-wrong');
    const again = await propose();
    t.equal(again.code, 1, 'the v2 branch exists already');
    t.match(again.err, kind === 'github' ? 'Reference already exists' : 'Branch already exists');
    writeFileSync(join(repo, 'second.patch'), second.out);
    git(repo, 'apply', 'second.patch');
    t.equal(updated, readFileSync(join(repo, 'baselines/team-a-web-app.yaml'), 'utf8'));
    t.same(loads(join(repo, 'checked', '2'), forge.files(update.head)!), []);
    t.match(update.body, '\n````diff\n' + second.out + '````\n', 'the patch holds ``` (the path): its block is fenced with four');
    t.notMatch(update.body, /^# injected heading$/m, 'no line of attacker text escapes into Markdown');
    if (kind === 'github') {
      const put = forge.requests.filter((r) => r.method === 'PUT');
      t.ok((put[1]!.body as { sha?: string }).sha, 'an update names the blob it replaces (GitHub contents API)');
    } else {
      const commits = forge.requests.filter((r) => r.url.endsWith('/repository/commits')).map((r) => (r.body as { actions: { action: string }[] }).actions[0]!.action);
      t.same(commits, ['create', 'update'], 'create, then update (GitLab commits API)');
    }

    // The token: in the forge's header only, never in a URL or a body, never printed.
    for (const r of forge.requests.filter((r) => !JSON.stringify(r.headers).includes('glpat-wrong'))) {
      t.notMatch(r.url, TOKEN);
      t.notMatch(JSON.stringify(r.body ?? ''), TOKEN);
      t.equal(kind === 'github' ? r.headers.authorization : r.headers['private-token'], kind === 'github' ? `Bearer ${TOKEN}` : TOKEN);
    }
    t.notMatch(first.err + second.err + first.out + second.out, TOKEN);
  });
}

t.test('no forge token, or plain http to a remote forge: refused before anything is sent', async (t) => {
  const h = await startHarness(t);
  const { web } = await learnScene(h);
  const id = await h.baselineOf(web);
  const repo = t.testdir({ baselines: {} });
  const env = process.env.DRIFTWATCH_FORGE_TOKEN;
  delete process.env.DRIFTWATCH_FORGE_TOKEN;
  t.teardown(() => {
    if (env !== undefined) process.env.DRIFTWATCH_FORGE_TOKEN = env;
  });
  const none = await inRepo(repo, () => run(h, ['baseline', 'propose', String(id), '--open-pr', '--repo', 'acme/platform', '--forge-url', 'http://127.0.0.1:1']));
  t.equal(none.code, 1);
  t.match(none.err, 'a forge token is needed: set DRIFTWATCH_FORGE_TOKEN or pass --forge-token-file');
  process.env.DRIFTWATCH_FORGE_TOKEN = TOKEN;
  const plain = await inRepo(repo, () => run(h, ['baseline', 'propose', String(id), '--open-pr', '--repo', 'acme/platform', '--forge-url', 'http://forge.example.org']));
  t.equal(plain.code, 1);
  t.match(plain.err, 'refusing to send the forge token over plain http to forge.example.org');
  const noRepo = await inRepo(repo, () => run(h, ['baseline', 'propose', String(id), '--open-pr']));
  t.match(noRepo.err, '--open-pr needs --repo');
});

t.test('fenced: the fence is longer than any backtick run inside', async (t) => {
  t.equal(fenced('a'), '```\na\n```');
  t.equal(fenced('x ```` y\n', 'diff'), '`````diff\nx ```` y\n`````');
});
