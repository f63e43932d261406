/**
 * Loading a configuration: file → `DRIFTWATCH_A__B` environment → flags (later wins), defaults
 * filled from the schema, validated, deep-frozen. Which keys the environment and the flags set is
 * reported (never their values), so that a process can say at start where its settings came from.
 */
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { LineCounter, parseDocument } from 'yaml';
import { describeSchemaError, schemaErrorPath } from '../schema-errors.js';
import { yamlPathPosition, yamlPosition, type YamlPosition } from '../yaml-location.js';
import { ConfigError } from './errors.js';
import type { ConfigSchema, DriftwatchConfig } from './schema.js';

const ENV_PREFIX = 'DRIFTWATCH_';

export interface LoadConfigOptions {
  /** Path of the YAML file; omitted = embedded defaults only. */
  file?: string;
  /** Environment to read overrides from (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** Overrides from flags, as dotted paths: `{ 'collector.http.listen': '127.0.0.1:9000' }`. */
  overrides?: Record<string, unknown>;
  /** Where each override came from, as reported (`flag --http-listen`); default `flag`. */
  overrideSources?: Readonly<Record<string, string>>;
}

/** A key the environment or a flag set over the file: its dotted path and where it came from. */
export interface ConfigOverride {
  key: string;
  /** `env DRIFTWATCH_COLLECTOR__HTTP__LISTEN`, `flag --http-listen`. */
  source: string;
}

/** A deprecated key that was set: its value now counts as `replacement` (to be warned about at start). */
export interface ConfigDeprecation {
  key: string;
  replacement: string;
}

/**
 * Keys renamed after they shipped: the old name keeps working (moved to the new one before
 * validation) and is reported, so a process can warn once at start. Setting both to different
 * values is an error naming both — neither silently wins.
 */
const RENAMED_KEYS: readonly { old: string; now: string }[] = [
  // The issue and the docs call the console's base URL externalUrl; publicUrl shipped first.
  { old: 'collector.http.publicUrl', now: 'collector.http.externalUrl' },
];

export interface LoadedConfig {
  config: Readonly<DriftwatchConfig>;
  /** In the order they were applied; the values are deliberately not kept (they may be secrets). */
  overrides: readonly ConfigOverride[];
  /** Deprecated keys that were set, with the key that replaced them. */
  deprecations: readonly ConfigDeprecation[];
}

/**
 * A loader for one composed schema (compiled once). It throws ConfigError naming the file, the
 * key, the line:column and the reason.
 */
export function configLoader(schema: ConfigSchema): (opts?: LoadConfigOptions) => LoadedConfig {
  const ajv = new Ajv({ allErrors: false, useDefaults: true, strict: false, coerceTypes: false });
  const validate = ajv.compile(schema);
  const sections = new Set(Object.keys(schema.properties));

  return (opts = {}) => {
    const env = opts.env ?? process.env;
    const origin = opts.file ?? '<defaults>';
    const { data, locate } = opts.file !== undefined ? readYaml(opts.file) : { data: {}, locate: () => undefined };
    const overrides: ConfigOverride[] = [];

    for (const [name, value] of Object.entries(env)) {
      if (!name.startsWith(ENV_PREFIX) || value === undefined) continue;
      const path = name.slice(ENV_PREFIX.length).toLowerCase().split('__').map(camelCase);
      if (!sections.has(path[0]!)) continue;
      setPath(data, path, parseScalar(value), `environment ${name}`);
      overrides.push({ key: path.join('.'), source: `env ${name}` });
    }
    for (const [dotted, value] of Object.entries(opts.overrides ?? {})) {
      if (value === undefined) continue;
      setPath(data, dotted.split('.'), value, `flag for ${dotted}`);
      overrides.push({ key: dotted, source: opts.overrideSources?.[dotted] ?? 'flag' });
    }

    const deprecations = renameDeprecatedKeys(data, origin, locate);
    if (!validate(data)) {
      const err = validate.errors![0]!;
      const path = schemaErrorPath(err);
      const where = locate(path, err.keyword === 'additionalProperties');
      throw new ConfigError(origin, path.join('.'), describeSchemaError(err), where?.line, where?.column);
    }
    return { config: deepFreeze(data as unknown as DriftwatchConfig), overrides, deprecations };
  };
}

/** Moves each set deprecated key to its replacement (the data before validation). */
function renameDeprecatedKeys(data: Record<string, unknown>, origin: string, locate: Locate): ConfigDeprecation[] {
  const found: ConfigDeprecation[] = [];
  for (const { old, now } of RENAMED_KEYS) {
    const oldPath = old.split('.');
    const nowPath = now.split('.');
    const parent = mappingAt(data, oldPath.slice(0, -1));
    const oldName = oldPath[oldPath.length - 1]!;
    if (!parent || parent[oldName] === undefined) continue;
    const value = parent[oldName];
    const target = mappingAt(data, nowPath.slice(0, -1));
    const current = target?.[nowPath[nowPath.length - 1]!];
    if (current !== undefined && current !== value) {
      const where = locate(oldPath, true);
      throw new ConfigError(origin, old, `${old} (deprecated) and ${now} are both set, to different values: set only ${now}`, where?.line, where?.column);
    }
    delete parent[oldName];
    setPath(data, nowPath, value, `deprecated key ${old}`);
    found.push({ key: old, replacement: now });
  }
  return found;
}

function mappingAt(data: Record<string, unknown>, path: string[]): Record<string, unknown> | undefined {
  let cur: unknown = data;
  for (const seg of path) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[seg];
  }
  return typeof cur === 'object' && cur !== null && !Array.isArray(cur) ? (cur as Record<string, unknown>) : undefined;
}

type Locate = (path: string[], atKey: boolean) => YamlPosition | undefined;

function readYaml(file: string): { data: Record<string, unknown>; locate: Locate } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, '', `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const pos = yamlPosition(lineCounter, e.pos[0]);
    throw new ConfigError(file, '', e.message.split('\n')[0]!, pos.line, pos.column);
  }
  const parsed: unknown = doc.toJS();
  let data: Record<string, unknown> = {};
  if (parsed !== null && parsed !== undefined) {
    if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError(file, '', 'the top level must be a mapping');
    data = parsed as Record<string, unknown>;
  }
  return { data, locate: (path, atKey) => yamlPathPosition(doc.contents, path, lineCounter, atKey) };
}

function camelCase(s: string): string {
  return s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Environment values are strings: numbers, booleans and JSON arrays/objects are decoded. */
function parseScalar(value: string): unknown {
  if (value === 'true') return true;
  if (value === 'false') return false;
  if (/^-?\d+(\.\d+)?$/.test(value)) return Number(value);
  if (/^[[{]/.test(value)) {
    try {
      return JSON.parse(value);
    } catch {
      return value;
    }
  }
  return value;
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown, what: string): void {
  let cur: Record<string, unknown> = target;
  for (const seg of path.slice(0, -1)) {
    const next = cur[seg];
    if (next === undefined) cur[seg] = {};
    else if (typeof next !== 'object' || next === null || Array.isArray(next)) throw new ConfigError(what, path.join('.'), `${seg} is not a mapping`);
    cur = cur[seg] as Record<string, unknown>;
  }
  cur[path[path.length - 1]!] = value;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  }
  return value;
}
