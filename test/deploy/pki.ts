/**
 * The manual mTLS procedure of docs/install.md, run as written in a directory, with `kubectl`
 * replaced by a recorder (its invocations end up in `kubectl.log`).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packagePath } from '../../common/paths.js';

export interface ManualPki {
  /** Where the procedure left ca.crt, collector.{crt,key}, agent.{crt,key}. */
  dir: string;
  /** kubectl invocations, one per line. */
  kubectlLog: string;
}

export function manualProcedure(): string {
  const doc = readFileSync(packagePath('docs', 'install.md'), 'utf8');
  const section = doc.slice(doc.indexOf('### By hand, with openssl'));
  const m = /```sh\n([\s\S]*?)\n```/.exec(section);
  if (!m) throw new Error('docs/install.md: no sh block under "### By hand, with openssl"');
  return m[1]!;
}

export function runManualPki(workDir: string): ManualPki {
  const bin = join(workDir, 'bin');
  mkdirSync(bin, { recursive: true });
  const log = join(workDir, 'kubectl.log');
  const kubectl = join(bin, 'kubectl');
  // `create --dry-run … | kubectl apply -f -` pipes: the recorder prints for create and reads
  // everything for apply, so the pipe never breaks (pipefail).
  writeFileSync(kubectl, `#!/bin/sh\nprintf '%s\\n' "$*" >> "${log}"\ncase "$1" in\n  create) echo 'apiVersion: v1' ;;\n  apply) cat > /dev/null ;;\nesac\n`);
  chmodSync(kubectl, 0o755);
  writeFileSync(log, '');
  execFileSync('bash', ['-euo', 'pipefail', '-c', manualProcedure()], { cwd: workDir, env: { ...process.env, PATH: `${bin}:${process.env['PATH'] ?? ''}` }, stdio: 'pipe' });
  return { dir: join(workDir, 'driftwatch-pki'), kubectlLog: readFileSync(log, 'utf8') };
}

/** A Secret volume as the kubelet lays it out: one file per key, named by the key. */
export function secretVolume(dir: string, files: Record<string, string>): string {
  mkdirSync(dir, { recursive: true });
  for (const [key, source] of Object.entries(files)) copyFileSync(source, join(dir, key));
  return dir;
}
