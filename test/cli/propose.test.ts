/**
 * `driftwatch baseline propose`: a learned baseline as a patch against a checkout of the
 * repository's baselines/, applied with the real `git apply`, then loaded by the collector's
 * declared-baseline loader without an error; a later version changes the same file.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { DeclaredBaselines } from '../../collector/baselines/declared.js';
import { packagePath } from '../../common/paths.js';
import { unifiedDiff } from '../../cli/propose.js';
import { HOUR, learnScene, proc, startHarness, T0 } from '../helpers/api-harness.js';
import { run } from '../helpers/cli-run.js';

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=test', '-c', 'user.email=test@driftwatch.invalid', ...args], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

async function propose(h: Parameters<typeof run>[0], repo: string, id: number): Promise<{ code: number; out: string; err: string }> {
  const cwd = process.cwd();
  process.chdir(repo);
  try {
    return await run(h, ['baseline', 'propose', String(id)]);
  } finally {
    process.chdir(cwd);
  }
}

t.test('propose → git apply → the collector loads it; a new version changes the same file', async (t) => {
  const h = await startHarness(t);
  const { web } = await learnScene(h);
  const id = await h.baselineOf(web);
  const repo = t.testdir({});
  cpSync(packagePath('baselines'), join(repo, 'baselines'), { recursive: true });
  git(repo, 'init', '-q');
  git(repo, 'add', '.');
  git(repo, 'commit', '-qm', 'baselines');

  const first = await propose(h, repo, id);
  t.equal(first.code, 0, first.err);
  t.match(first.out, /^diff --git a\/baselines\/team-a-web-app\.yaml b\/baselines\/team-a-web-app\.yaml\nnew file mode 100644\n--- \/dev\/null\n\+\+\+ b\/baselines\/team-a-web-app\.yaml\n@@ -0,0 \+1,\d+ @@\n/);
  t.match(first.err, 'creates baselines/team-a-web-app.yaml');
  writeFileSync(join(repo, 'change.patch'), first.out);
  git(repo, 'apply', '--check', 'change.patch');
  git(repo, 'apply', 'change.patch');
  const text = readFileSync(join(repo, 'baselines', 'team-a-web-app.yaml'), 'utf8');
  t.match(text, '/usr/sbin/nginx');
  const loaded = new DeclaredBaselines({ dir: join(repo, 'baselines') }).reload();
  t.same(loaded.errors, [], 'the collector accepts the proposed file');
  t.ok(loaded.files.includes('team-a-web-app.yaml'));
  git(repo, 'add', 'baselines');
  git(repo, 'commit', '-qm', 'web baseline');

  // A person adds an item; the next proposal changes the file that declares the workload.
  const d = await h.raise(proc(web, T0 + 3 * HOUR, '/usr/local/bin/migrate'));
  await h.call('POST', `/api/v1/deviations/${d.id}/add-to-baseline`, { body: { comment: 'migrations at every release' } });
  const second = await propose(h, repo, id);
  t.equal(second.code, 0, second.err);
  t.match(second.out, /^diff --git a\/baselines\/team-a-web-app\.yaml b\/baselines\/team-a-web-app\.yaml\n--- a\/baselines\/team-a-web-app\.yaml\n/);
  t.match(second.out, /^\+.*\/usr\/local\/bin\/migrate/m, 'the new item is an added line');
  t.notMatch(second.out, /^-.*\/usr\/sbin\/nginx/m, 'what stays is not removed');
  writeFileSync(join(repo, 'second.patch'), second.out);
  git(repo, 'apply', 'second.patch');
  t.same(new DeclaredBaselines({ dir: join(repo, 'baselines') }).reload().errors, []);
  t.equal((await propose(h, repo, id)).out, '', 'once applied, nothing more to propose');

  const outside = await run(h, ['baseline', 'propose', String(id), '--dir', '../elsewhere']);
  t.equal(outside.code, 1);
  t.match(outside.err, '--dir: give the directory relative to the repository root');
});

t.test('unifiedDiff: creation and change hunks', async (t) => {
  t.equal(unifiedDiff('b/x.yaml', 'a\n', 'a\n'), '', 'no change, no patch');
  t.equal(unifiedDiff('x.yaml', null, 'a\nb\n'), 'diff --git a/x.yaml b/x.yaml\nnew file mode 100644\n--- /dev/null\n+++ b/x.yaml\n@@ -0,0 +1,2 @@\n+a\n+b\n');
  t.equal(unifiedDiff('x.yaml', 'a\nb\n', 'a\nc\n'), 'diff --git a/x.yaml b/x.yaml\n--- a/x.yaml\n+++ b/x.yaml\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n');
});
