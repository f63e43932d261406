/**
 * `driftwatch baseline propose <id>`: a baseline as a change to the repository's declared
 * baselines, written as a unified diff that `git apply` takes (run it in the checkout). The file
 * that already holds the workload's declared baseline (same metadata.name) is replaced; else a new
 * `<dir>/<name>.yaml` is created.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { isAbsolute, join, normalize } from 'node:path';
import type { Command } from 'commander';
import { structuredPatch } from 'diff';
import { parseAllDocuments } from 'yaml';
import { clientFrom, withClientOptions, type ClientOptions } from './client.js';

interface Proposal {
  name: string;
  file: string;
  yaml: string;
  baseline: { id: number; version: number; phase: string };
  items: number;
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

export function register(baseline: Command): void {
  withClientOptions(baseline.command('propose').description('a learned or approved baseline as a patch to the declared baselines (git apply it in the repository)').argument('<id>'), { output: false })
    .option('--dir <dir>', 'the declared-baselines directory, relative to the repository root (run in the root)', 'baselines')
    .action(async (id: string, opts: ClientOptions & { dir: string }) => {
      const dir = normalize(opts.dir).replace(/\/+$/, '');
      if (isAbsolute(dir) || dir.startsWith('..')) throw new Error('--dir: give the directory relative to the repository root, inside it (e.g. baselines)');
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
    });
}
