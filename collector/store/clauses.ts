/** Building blocks of the read side's WHERE clauses: scopes, lists, LIKE patterns (named params). */
import type { SqlValue } from './sql.js';

export type Params = Record<string, SqlValue>;

/** `alias.namespace IN (…)` for a scoped reader; '' for an unscoped one. */
export function scopeClause(column: string, namespaces: readonly string[] | null | undefined, params: Params, prefix: string): string {
  if (!namespaces) return '';
  if (namespaces.length === 0) return '1 = 0';
  const names = namespaces.map((ns, i) => {
    params[`${prefix}${i}`] = ns;
    return `@${prefix}${i}`;
  });
  return `${column} IN (${names.join(', ')})`;
}

export function listClause(column: string, values: readonly string[] | undefined, params: Params, prefix: string): string {
  if (!values || values.length === 0) return '';
  const names = values.map((v, i) => {
    params[`${prefix}${i}`] = v;
    return `@${prefix}${i}`;
  });
  return values.length === 1 ? `${column} = ${names[0]!}` : `${column} IN (${names.join(', ')})`;
}

export function escapeLike(text: string): string {
  return text.toLowerCase().replace(/[\\%_]/g, (c) => '\\' + c);
}
