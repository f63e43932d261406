/**
 * Parsing and validation of one declared-baseline file (schema: baselines/schema.json): YAML with
 * any number of `---` documents, all-or-nothing, every problem named by file:line:column.
 */
import type { ImagePolicy } from '../store/workloads.js';
import { readFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import { LineCounter, parseAllDocuments, type Document } from 'yaml';
import { parseCidr } from '../../common/cidr.js';
import { compileGlob, type Glob } from '../../common/glob.js';
import type { L4Protocol, NetworkDirection, WorkloadKind } from '../../common/model.js';
import { packagePath } from '../../common/paths.js';
import { describeSchemaError, schemaErrorPath } from '../../common/schema-errors.js';
import { yamlPathPosition, yamlPosition, type YamlPosition } from '../../common/yaml-location.js';
import type { DeclaredBaseline, DeclaredError, DeclaredMode, RuleSet } from './declared.js';

interface ProcessRuleDoc {
  path: string;
  args?: string[];
}
interface NetworkRuleDoc {
  direction?: NetworkDirection;
  protocol?: L4Protocol;
  ports?: (number | string)[];
  cidrs?: string[];
  services?: string[];
  dnsNames?: string[];
}
interface RulesDoc {
  processes?: ProcessRuleDoc[];
  network?: NetworkRuleDoc[];
}
interface BaselineDoc {
  apiVersion: string;
  kind: string;
  metadata: { name: string; description?: string };
  spec: {
    selector: { cluster?: string; namespace?: string; kind?: WorkloadKind; workload?: string; container?: string };
    mode?: DeclaredMode;
    imagePolicy?: ImagePolicy;
    allow?: RulesDoc;
    deny?: RulesDoc;
  };
}


type Validator = ((data: unknown) => boolean) & { errors?: ErrorObject[] | null };
let validateDoc: Validator | null = null;

/** Compiled once, on first use: the schema ships in the package (baselines/schema.json). */
function validator(): Validator {
  if (!validateDoc) {
    const schema = JSON.parse(readFileSync(packagePath('baselines', 'schema.json'), 'utf8')) as Record<string, unknown>;
    validateDoc = new Ajv2020({ allErrors: false, useDefaults: true, strict: false }).compile(schema);
  }
  return validateDoc;
}

/** Parses and validates one file (any number of `---` documents). */
export function parseDeclaredFile(file: string, text: string): { baselines: DeclaredBaseline[] } | { errors: DeclaredError[] } {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const baselines: DeclaredBaseline[] = [];
  const names = new Set<string>();
  for (const doc of docs) {
    if (doc.errors.length) {
      const e = doc.errors[0]!;
      return { errors: [{ file, ...yamlPosition(lineCounter, e.pos[0]), reason: e.message.split('\n')[0]! }] };
    }
    const data: unknown = doc.toJS();
    if (data === null || data === undefined) continue;
    const validate = validator();
    if (!validate(data)) {
      const err = validate.errors![0]!;
      const path = schemaErrorPath(err);
      const where = locate(doc, path, lineCounter, err.keyword === 'additionalProperties');
      return { errors: [{ file, ...where, reason: `${path.join('.') || '(document)'}: ${describeSchemaError(err)}` }] };
    }
    const d = data as BaselineDoc;
    try {
      if (names.has(d.metadata.name)) throw new PathError(['metadata', 'name'], `duplicate name ${JSON.stringify(d.metadata.name)} in this file`);
      names.add(d.metadata.name);
      baselines.push(compileDoc(file, d));
    } catch (err) {
      if (err instanceof PathError) return { errors: [{ file, ...locate(doc, err.path, lineCounter), reason: `${err.path.join('.')}: ${err.message}` }] };
      throw err;
    }
  }
  return { baselines };
}

class PathError extends Error {
  constructor(
    readonly path: string[],
    message: string,
  ) {
    super(message);
  }
}

function compileDoc(file: string, d: BaselineDoc): DeclaredBaseline {
  const sel = d.spec.selector;
  const glob = (s: string | undefined): Glob | null => (s === undefined ? null : compileGlob(s));
  return {
    name: d.metadata.name,
    file,
    mode: d.spec.mode ?? 'extend',
    imagePolicy: d.spec.imagePolicy ?? null,
    selector: { cluster: glob(sel.cluster), namespace: glob(sel.namespace), kind: sel.kind ?? null, workload: glob(sel.workload), container: glob(sel.container) },
    allow: compileRules(d.spec.allow, ['spec', 'allow']),
    deny: compileRules(d.spec.deny, ['spec', 'deny']),
  };
}

function compileRules(r: RulesDoc | undefined, at: string[]): RuleSet {
  const processes = (r?.processes ?? []).map((p) => ({
    path: p.path,
    pathGlob: compileGlob(p.path),
    exact: !/[*?]/.test(p.path),
    args: p.args ? p.args.map(compileGlob) : null,
    argsText: p.args ?? null,
  }));
  const network = (r?.network ?? []).map((n, i) => {
    const here = [...at, 'network', String(i)];
    const ports = n.ports
      ? n.ports.map((p, j): [number, number] => {
          if (typeof p === 'number') return [p, p];
          const [lo, hi] = p.split('-').map(Number) as [number, number];
          if (lo > hi || hi > 65535) throw new PathError([...here, 'ports', String(j)], `invalid port range ${JSON.stringify(p)}`);
          return [lo, hi];
        })
      : null;
    const cidrs = n.cidrs
      ? n.cidrs.map((c, j) => {
          const parsed = parseCidr(c);
          if (!parsed) throw new PathError([...here, 'cidrs', String(j)], `not a CIDR or address: ${JSON.stringify(c)}`);
          return parsed;
        })
      : null;
    if (n.direction === 'listen' && (n.cidrs || n.services || n.dnsNames)) throw new PathError(here, 'a listen rule has no peer: use ports only');
    return {
      direction: n.direction ?? null,
      protocol: n.protocol ?? null,
      ports,
      cidrs,
      services: n.services ? n.services.map(compileGlob) : null,
      dnsNames: n.dnsNames ? n.dnsNames.map((s) => compileGlob(s.toLowerCase())) : null,
    };
  });
  return { processes, network };
}

/** Always a position: a document that validation reached has contents, so the fallback is only formal. */
function locate(doc: Document, path: string[], lineCounter: LineCounter, atKey = false): YamlPosition {
  return yamlPathPosition(doc.contents, path, lineCounter, atKey) ?? yamlPosition(lineCounter, 0);
}
