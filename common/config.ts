import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { LineCounter, parseDocument } from 'yaml';
import { configSchema, type DriftwatchConfig } from './config-schema.js';
import { describeSchemaError, schemaErrorPath } from './schema-errors.js';
import { yamlPathPosition, yamlPosition, type YamlPosition } from './yaml-location.js';

export type { DriftwatchConfig } from './config-schema.js';

/**
 * A configuration problem: where (file, key, line:column) and why. `driftwatch` prints
 * `toString()` as one line and exits with status 2.
 */
export class ConfigError extends Error {
  readonly code = 'DW_ERR_CONFIG';
  constructor(
    readonly file: string,
    readonly key: string,
    readonly reason: string,
    readonly line?: number,
    readonly column?: number,
  ) {
    super(`${file}${line !== undefined ? `:${line}:${column ?? 1}` : ''}: ${key ? `${key}: ` : ''}${reason}`);
    this.name = 'ConfigError';
  }
}

const ENV_PREFIX = 'DRIFTWATCH_';

export interface LoadConfigOptions {
  /** Path of the YAML file; omitted = embedded defaults only. */
  file?: string;
  /** Environment to read overrides from (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** Overrides from flags, as dotted paths: `{ 'collector.http.listen': '127.0.0.1:9000' }`. */
  overrides?: Record<string, unknown>;
}

const ajv = new Ajv({ allErrors: false, useDefaults: true, strict: false, coerceTypes: false });
const validate = ajv.compile(configSchema);

/**
 * Loads file → environment → flags (later wins), fills defaults from the schema, validates, and
 * returns a deep-frozen config. Throws ConfigError naming the file, the key and the reason.
 */
export function loadConfig(opts: LoadConfigOptions = {}): Readonly<DriftwatchConfig> {
  const env = opts.env ?? process.env;
  let data: Record<string, unknown> = {};
  let locate: (path: string[], atKey: boolean) => YamlPosition | undefined = () => undefined;
  const origin = opts.file ?? '<defaults>';

  if (opts.file !== undefined) {
    let text: string;
    try {
      text = readFileSync(opts.file, 'utf8');
    } catch (err) {
      throw new ConfigError(opts.file, '', `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    const lineCounter = new LineCounter();
    const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
    if (doc.errors.length > 0) {
      const e = doc.errors[0]!;
      const pos = yamlPosition(lineCounter, e.pos[0]);
      throw new ConfigError(opts.file, '', e.message.split('\n')[0]!, pos.line, pos.column);
    }
    const parsed: unknown = doc.toJS();
    if (parsed !== null && parsed !== undefined) {
      if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError(opts.file, '', 'the top level must be a mapping');
      data = parsed as Record<string, unknown>;
    }
    locate = (path, atKey) => yamlPathPosition(doc.contents, path, lineCounter, atKey);
  }

  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || value === undefined) continue;
    const path = name.slice(ENV_PREFIX.length).toLowerCase().split('__').map(camelCase);
    if (path.length === 0 || path[0] === '') continue;
    if (!['cluster', 'log', 'agent', 'collector'].includes(path[0]!)) continue;
    setPath(data, path, parseScalar(value), `environment ${name}`);
  }
  for (const [dotted, value] of Object.entries(opts.overrides ?? {})) {
    if (value === undefined) continue;
    setPath(data, dotted.split('.'), value, `flag for ${dotted}`);
  }

  if (!validate(data)) {
    const err = validate.errors![0]!;
    const path = schemaErrorPath(err);
    const where = locate(path, err.keyword === 'additionalProperties');
    throw new ConfigError(origin, path.join('.'), describeSchemaError(err), where?.line, where?.column);
  }
  return deepFreeze(data as unknown as DriftwatchConfig);
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
