/**
 * What a source kind declares about itself, next to its code: its name, its own keys under
 * `agent.sources[]` and how to build it. agent/sources/index.ts lists the definitions — the one
 * list of source kinds — and the configuration schema is composed from them (cli/config.ts).
 */
import type { Static, TObject, TProperties } from '@sinclair/typebox';
import type { SourceConfig } from '../../common/config/schema.js';
import type { SourceKind } from '../../common/model.js';
import type { Source } from '../pipeline.js';
import type { SourceDeps } from './runtime.js';

/** A source item as a kind with these keys receives it: the common block and its own keys. */
export type SourceConfigOf<F extends TProperties> = SourceConfig & Static<TObject<F>>;

export interface SourceDefinition {
  readonly kind: SourceKind;
  /** The kind's own keys, as TypeBox schemas: optional or defaulted (common/config/kinds.ts). */
  readonly fields: TProperties;
  create(cfg: SourceConfig, deps: SourceDeps): Source;
}

/**
 * Declares a source kind. `create` sees its own keys typed from the same declaration that
 * validates them: the registry hands it only items of its kind, validated against the schema
 * composed from `fields` — which is what makes the one narrowing below sound.
 */
export function defineSource<F extends TProperties>(def: { kind: SourceKind; fields: F; create(cfg: SourceConfigOf<F>, deps: SourceDeps): Source }): SourceDefinition {
  return { kind: def.kind, fields: def.fields, create: (cfg, deps) => def.create(cfg as SourceConfigOf<F>, deps) };
}
