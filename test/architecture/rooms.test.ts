/**
 * The rooms of the code base, enforced: the agent and the collector share only `common/`, and
 * `common/` depends on neither. A violation names the file and the import.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import t from 'tap';

const ROOT = resolve(import.meta.dirname, '..', '..');

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(ROOT, dir))) {
    const path = join(dir, entry);
    if (statSync(join(ROOT, path)).isDirectory()) out.push(...sourceFiles(path));
    else if (entry.endsWith('.ts')) out.push(path);
  }
  return out;
}

/** The top-level folders a file's relative imports reach. */
function importedRooms(file: string): { spec: string; room: string }[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const out: { spec: string; room: string }[] = [];
  for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*)'(\.[^']+)'/g)) {
    const target = relative(ROOT, resolve(join(ROOT, file, '..'), m[1]!));
    out.push({ spec: m[1]!, room: target.split(sep)[0]! });
  }
  return out;
}

const FORBIDDEN: Record<string, readonly string[]> = {
  agent: ['collector', 'cli'],
  collector: ['agent', 'cli'],
  common: ['agent', 'collector', 'cli'],
};

for (const [room, forbidden] of Object.entries(FORBIDDEN)) {
  t.test(`${room}/ imports none of ${forbidden.join(', ')}`, async (t) => {
    const violations: string[] = [];
    for (const file of sourceFiles(room)) {
      for (const imp of importedRooms(file)) if (forbidden.includes(imp.room)) violations.push(`${file} imports ${imp.spec}`);
    }
    t.same(violations, []);
  });
}
