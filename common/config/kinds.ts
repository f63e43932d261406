/**
 * Lists whose items have a kind (`agent.sources[]` by `kind`, `collector.alerting.sinks[]` by
 * `type`): a common block every item has, plus the keys its kind declares. The kinds are not
 * listed here: each source or sink declares its own keys next to its code, its registry
 * (agent/sources/index.ts, collector/sinks/index.ts) is the one list of them, and the schema is
 * composed from those registries (cli/config.ts). Adding a kind therefore touches no file here.
 */
import { KindGuard, Type, type TObject, type TProperties, type TSchema } from '@sinclair/typebox';
import { closed, oneOf } from './fields.js';

/** What one kind adds to the items of its list: its name and its own keys. */
export interface KindDeclaration {
  readonly name: string;
  readonly fields: TProperties;
}

/**
 * The schema of one item: the common block, the kind key restricted to the declared kinds, and
 * every key some kind declares.
 *
 * One mapping rather than one schema per kind (`oneOf`): Ajv then names the offending key and its
 * line, and the README reference documents the list as one unit. Which keys apply to which kind
 * is its registry's check (a sink's `requireOneOf`, validateSinks). So a kind's keys must be
 * optional or defaulted, and kinds that share a key must declare it identically — both checked
 * here, when the schema is composed, so a mistake fails at start and in every test.
 *
 * Typed as the common block: each kind's own keys are typed where the kind is defined, from the
 * same declaration (agent/sources/definition.ts, collector/sinks/types.ts).
 */
export function kindedItemSchema<C extends TProperties>(list: string, common: C, kindKey: keyof C & string, kinds: readonly KindDeclaration[]): TObject<C> {
  const kindPattern = (common[kindKey] as TSchema & { pattern?: string }).pattern;
  const names = new Set<string>();
  const fields: TProperties = {};
  for (const kind of kinds) {
    if (names.has(kind.name)) throw new Error(`${list}: ${kindKey} ${JSON.stringify(kind.name)} is registered twice`);
    if (kindPattern !== undefined && !new RegExp(kindPattern).test(kind.name)) throw new Error(`${list}: ${kindKey} ${JSON.stringify(kind.name)} does not match ${kindPattern}`);
    names.add(kind.name);
    for (const [key, schema] of Object.entries(kind.fields)) {
      const where = `${list}: ${kind.name}.${key}`;
      if (key in common) throw new Error(`${where}: redeclares a key of the common block`);
      if (!KindGuard.IsOptional(schema) && !('default' in schema)) throw new Error(`${where}: a kind's key must be optional or have a default`);
      const earlier = fields[key];
      if (earlier !== undefined && JSON.stringify(earlier) !== JSON.stringify(schema)) throw new Error(`${where}: declared differently by another ${kindKey}`);
      fields[key] = schema;
    }
  }
  const item = Type.Object({ ...common, [kindKey]: oneOf([...names]), ...fields }, closed);
  return item as unknown as TObject<C>;
}
