/**
 * The README's configuration reference is the user's contract: every key of the schema must be
 * documented there, so a new key cannot ship undocumented.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { configSchema } from '../../cli/config.js';
import { packagePath } from '../../common/paths.js';

interface SchemaNode {
  type?: string | readonly string[];
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
}

/** Dotted paths of every documented unit: leaves, and arrays of objects as `key[]`. */
function keys(node: SchemaNode, prefix: string): string[] {
  if (node.properties) return Object.entries(node.properties).flatMap(([k, v]) => keys(v, prefix ? `${prefix}.${k}` : k));
  if (node.items?.properties) return [`${prefix}[]`];
  return [prefix];
}

t.test('every configuration key is in the README reference', async (t) => {
  const readme = readFileSync(packagePath('README.md'), 'utf8');
  const rows = readme.split('\n').filter((l) => l.startsWith('| `'));
  const documented = (key: string): boolean =>
    rows.some((row) => {
      const cell = /^\| `([^`]+)`/.exec(row)?.[1] ?? '';
      if (cell === key) return true;
      // `a.b.{c,d}` documents a.b.c and a.b.d
      const group = /^(.*)\.\{([^}]+)\}$/.exec(cell);
      if (group) return group[2]!.split(',').some((leaf) => `${group[1]}.${leaf.trim()}` === key);
      return false;
    });
  const missing = keys(configSchema as unknown as SchemaNode, '').filter((k) => !documented(k));
  t.same(missing, [], 'undocumented configuration keys');
});
