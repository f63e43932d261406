/**
 * ARCHITECTURE.md names the file behind every step and invariant: each path it names must exist, so
 * the page cannot drift from the code. Patterns (`*`, `…`) are the exception.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import t from 'tap';

const ROOT = resolve(import.meta.dirname, '..', '..');
const TOP = /^(agent|collector|common|cli|ui|test|proto|baselines|deploy|docs|bench|demo)\//;

t.test('every path ARCHITECTURE.md names exists', async (t) => {
  const text = readFileSync(join(ROOT, 'ARCHITECTURE.md'), 'utf8');
  const paths = [...text.matchAll(/`([^`\s]+)`/g)].map((m) => m[1]!).filter((p) => TOP.test(p) && !/[*…]/.test(p));
  t.ok(paths.length > 40, `the page names the files (${paths.length})`);
  t.same(paths.filter((p) => !existsSync(join(ROOT, p))), [], 'missing paths');
});
