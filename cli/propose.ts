/**
 * `driftwatch baseline propose <id>`: a baseline as a change to the repository's declared
 * baselines, written as a unified diff that `git apply` takes (run it in the checkout). The file
 * that already holds the workload's declared baseline (same metadata.name) is replaced; else a new
 * `<dir>/<name>.yaml` is created. With `--open-pr` the same change is also opened for review on a
 * Git forge (GitHub or GitLab), with the evidence behind it in the description (cli/forge.ts).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { isAbsolute, join, normalize } from 'node:path';
import type { Command } from 'commander';
import { structuredPatch } from 'diff';
import { parseAllDocuments } from 'yaml';
import { clientFrom, time, withClientOptions, type ClientOptions } from './client.js';
import { terminalSafe } from '../common/text.js';
import { DEFAULT_FORGE_URL, FORGES, openChange, type ForgeKind } from './forge.js';

interface Proposal {
  name: string;
  file: string;
  yaml: string;
  baseline: { id: number; version: number; phase: string };
  items: number;
  link: string;
}

/** What the description shows of the baseline (GET /baselines/{id}). */
interface BaselineFacts {
  workload: { namespace: string; name: string; container: string };
  generation: number;
  completeness: string;
  learningStartMs: number | null;
  learningUntilMs: number | null;
  decidedBy: string | null;
  decidedAt: string | null;
  decisionComment: string | null;
  openDeviations: number;
}

interface ProposeOptions extends ClientOptions {
  dir: string;
  openPr?: boolean;
  forge?: string;
  forgeUrl?: string;
  repo?: string;
  base?: string;
  branch?: string;
  forgeTokenFile?: string;
  forgeInsecure?: boolean;
}

/**
 * A Markdown code block that its content cannot end: the fence is longer than any run of
 * backticks inside (names, arguments and comments come from the cluster and its people).
 */
export function fenced(text: string, lang = ''): string {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return `${fence}${lang}\n${text.replace(/\n?$/, '\n')}${fence}`;
}

/** The pull request's description: the evidence (as data, never as Markdown) and the patch. */
export function evidenceBody(p: Proposal, b: BaselineFacts, diff: string): string {
  const w = b.workload;
  const facts = [
    ['workload', `${w.namespace}/${w.name}/${w.container}`],
    ['baseline', `${p.baseline.id}, generation ${b.generation}, version ${p.baseline.version} (${p.baseline.phase})`],
    ['items', String(p.items)],
    ['completeness', b.completeness],
    ['learned', `${time(b.learningStartMs)} → ${time(b.learningUntilMs)}`],
    ['decided', b.decidedBy ? `${b.decidedBy} at ${time(b.decidedAt)}: ${b.decisionComment ?? ''}` : 'not yet'],
    ['open deviations', String(b.openDeviations)],
    ['console', p.link],
  ];
  const width = Math.max(...facts.map(([k]) => k!.length));
  return [
    'Proposed by driftwatch: the declared baseline below, from what the workload was seen doing.',
    '',
    '**Evidence**',
    '',
    fenced(facts.map(([k, v]) => `${k!.padEnd(width)}  ${v}`).join('\n')),
    '',
    '**Change** (the same patch as `driftwatch baseline propose`, for `git apply`)',
    '',
    fenced(diff, 'diff'),
    '',
  ].join('\n');
}

/** The top-level YAML file of `dir` whose documents include metadata.name `name`, if any. */
export function fileDeclaring(dir: string, name: string): string | null {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f) && !f.startsWith('.')).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  for (const f of files) {
    const docs = parseAllDocuments(readFileSync(join(dir, f), 'utf8'));
    const list = Array.isArray(docs) ? docs : [docs];
    if (list.some((d) => (d.toJS() as { metadata?: { name?: unknown } } | null)?.metadata?.name === name)) return f;
  }
  return null;
}

/** A git-style unified diff of one file: `before` null creates it. Paths are repository-relative. */
export function unifiedDiff(path: string, before: string | null, after: string): string {
  const patch = structuredPatch(`a/${path}`, `b/${path}`, before ?? '', after, '', '', { context: 3 });
  if (patch.hunks.length === 0) return '';
  const head = before === null ? [`diff --git a/${path} b/${path}`, 'new file mode 100644', '--- /dev/null', `+++ b/${path}`] : [`diff --git a/${path} b/${path}`, `--- a/${path}`, `+++ b/${path}`];
  const hunks = patch.hunks.flatMap((h) => [`@@ -${h.oldLines === 0 ? h.oldStart - 1 : h.oldStart},${h.oldLines} +${h.newStart},${h.newLines} @@`, ...h.lines]);
  return [...head, ...hunks].join('\n') + '\n';
}

function forgeToken(opts: ProposeOptions, env: NodeJS.ProcessEnv): string {
  const token = (opts.forgeTokenFile ? readFileSync(opts.forgeTokenFile, 'utf8').trim() : undefined) ?? env.DRIFTWATCH_FORGE_TOKEN;
  if (!token) throw new Error('--open-pr: a forge token is needed: set DRIFTWATCH_FORGE_TOKEN or pass --forge-token-file');
  return token;
}

export function register(baseline: Command): void {
  withClientOptions(baseline.command('propose').description('a learned or approved baseline as a patch to the declared baselines (git apply it in the repository), optionally opened as a pull request').argument('<id>'), { output: false })
    .option('--dir <dir>', 'the declared-baselines directory, relative to the repository root (run in the root)', 'baselines')
    .option('--open-pr', 'also open the change as a pull request (GitHub) or merge request (GitLab), with the evidence')
    .option('--forge <kind>', `${FORGES.join(' | ')} (with --open-pr)`, 'github')
    .option('--forge-url <url>', `the forge's API (default ${Object.values(DEFAULT_FORGE_URL).join(' or ')})`)
    .option('--repo <repo>', 'GitHub owner/name, or GitLab group/project (with --open-pr)')
    .option('--base <branch>', "the branch to merge into (default: the repository's default branch)")
    .option('--branch <branch>', 'the branch to create (default: driftwatch/<name>-v<version>)')
    .option('--forge-token-file <file>', 'read the forge token from this file (else env DRIFTWATCH_FORGE_TOKEN)')
    .option('--forge-insecure', 'allow the forge token over plain http to a non-loopback forge')
    .action(async (id: string, opts: ProposeOptions) => {
      const dir = normalize(opts.dir).replace(/\/+$/, '');
      if (isAbsolute(dir) || dir.startsWith('..')) throw new Error('--dir: give the directory relative to the repository root, inside it (e.g. baselines)');
      if (opts.openPr && !opts.repo) throw new Error('--open-pr needs --repo (GitHub owner/name or GitLab group/project)');
      if (opts.openPr && !(FORGES as readonly string[]).includes(opts.forge ?? '')) throw new Error(`--forge: use one of ${FORGES.join(', ')}`);
      const client = clientFrom(opts);
      const p = await client.get<Proposal>(`/baselines/${encodeURIComponent(id)}/proposal`);
      const existing = fileDeclaring(dir, p.name);
      const file = existing ?? p.file;
      const before = existing ? readFileSync(join(dir, existing), 'utf8') : null;
      const header = `# Proposed by driftwatch from baseline ${p.baseline.id} v${p.baseline.version} (${p.baseline.phase}, ${p.items} items).\n`;
      const diff = unifiedDiff(`${dir}/${file}`, before, header + p.yaml);
      if (!diff) return void process.stderr.write(`${dir}/${file} already says this: nothing to propose\n`);
      process.stdout.write(diff);
      process.stderr.write(`${existing ? 'changes' : 'creates'} ${dir}/${file}: apply with \`git apply\` in the repository root, review, commit\n`);
      if (!opts.openPr) return;
      const facts = await client.get<BaselineFacts>(`/baselines/${encodeURIComponent(id)}`);
      const opened = await openChange(
        { kind: opts.forge as ForgeKind, apiUrl: opts.forgeUrl, repo: opts.repo!, token: forgeToken(opts, process.env), insecure: opts.forgeInsecure },
        {
          branch: opts.branch ?? `driftwatch/${p.name}-v${p.baseline.version}`,
          base: opts.base,
          path: `${dir}/${file}`,
          content: header + p.yaml,
          message: `baselines: ${p.name} from driftwatch baseline ${p.baseline.id} v${p.baseline.version}`,
          title: `Declared baseline for ${p.name} (driftwatch baseline ${p.baseline.id} v${p.baseline.version})`,
          body: evidenceBody(p, facts, diff),
        },
      );
      process.stderr.write(`opened ${opts.forge === 'gitlab' ? 'merge request !' : 'pull request #'}${opened.number} (${opened.branch} → ${opened.base}): ${terminalSafe(opened.url)}\n`);
    });
}
