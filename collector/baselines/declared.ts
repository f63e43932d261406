/**
 * Declared baselines: YAML documents (schema: baselines/schema.json) under `collector.baselinesDir`,
 * reviewed in git. Each names workload containers by glob selectors and says what they may do
 * (`allow`, extending or replacing the learned baseline) and what they must never do (`deny`).
 *
 * Loading is per file and all-or-nothing: a file with any problem is rejected with
 * file:line:column and the reason, and that file's last good content stays in force.
 */
import { readFileSync, readdirSync, statSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import { LineCounter, parseAllDocuments, type Document } from 'yaml';
import { describeSchemaError, schemaErrorPath } from '../../common/schema-errors.js';
import { compileGlob, type Glob } from '../../common/glob.js';
import { parseCidr, cidrContains, type Cidr } from '../../common/cidr.js';
import { servicePort } from '../../common/items/derive.js';
import { type Item } from '../../common/items/keys.js';
import type { NetworkDirection, L4Protocol, Observation, WorkloadId, WorkloadKind } from '../../common/model.js';
import { packagePath } from '../../common/paths.js';
import { yamlPathPosition, yamlPosition, type YamlPosition } from '../../common/yaml-location.js';

export type DeclaredMode = 'extend' | 'replace';

export interface DeclaredError {
  file: string;
  line: number;
  column: number;
  reason: string;
}

export function formatDeclaredError(e: DeclaredError): string {
  return `${e.file}:${e.line}:${e.column}: ${e.reason}`;
}

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
    imagePolicy?: 'relearn' | 'inherit' | 'alert';
    allow?: RulesDoc;
    deny?: RulesDoc;
  };
}

export interface ProcessRule {
  path: string;
  pathGlob: Glob;
  /** Exact path (no glob): the edge filter can hold it. */
  exact: boolean;
  args: Glob[] | null;
  argsText: string[] | null;
}

export interface NetworkRule {
  direction: NetworkDirection | null;
  protocol: L4Protocol | null;
  ports: [number, number][] | null;
  cidrs: Cidr[] | null;
  services: Glob[] | null;
  dnsNames: Glob[] | null;
}

export interface RuleSet {
  processes: ProcessRule[];
  network: NetworkRule[];
}

export interface DeclaredBaseline {
  name: string;
  file: string;
  mode: DeclaredMode;
  imagePolicy: 'relearn' | 'inherit' | 'alert' | null;
  selector: { cluster: Glob | null; namespace: Glob | null; kind: WorkloadKind | null; workload: Glob | null; container: Glob | null };
  allow: RuleSet;
  deny: RuleSet;
}

/** What applies to one workload container: the union of every matching declared baseline. */
export interface EffectiveDeclared {
  /** Names of the declared baselines that apply (`file#name`). */
  sources: string[];
  mode: DeclaredMode | null;
  imagePolicy: 'relearn' | 'inherit' | 'alert' | null;
  allow: RuleSet;
  deny: RuleSet;
}

const EMPTY: EffectiveDeclared = { sources: [], mode: null, imagePolicy: null, allow: { processes: [], network: [] }, deny: { processes: [], network: [] } };

/** Does a rule set match this observation (item derived by the engine)? Returns the rule's text. */
export function matchRules(rules: RuleSet, obs: Observation, item: Item): string | null {
  if (obs.kind === 'process') {
    for (const r of rules.processes) {
      if (!r.pathGlob.test(obs.process.exe)) continue;
      if (r.args && !r.args.some((re) => re.test(obs.process.args))) continue;
      return r.argsText ? `process ${r.path} args ${r.argsText.join(' | ')}` : `process ${r.path}`;
    }
    return null;
  }
  if (item.kind !== 'network') return null;
  const port = servicePort(obs);
  for (const r of rules.network) {
    if (r.direction && r.direction !== obs.direction) continue;
    if (r.protocol && r.protocol !== obs.protocol) continue;
    if (r.ports && (port === null || !r.ports.some(([lo, hi]) => port >= lo && port <= hi))) continue;
    const hasPeer = r.cidrs || r.services || r.dnsNames;
    if (hasPeer) {
      const ip = obs.peerIp;
      const byCidr = r.cidrs !== null && ip !== null && r.cidrs.some((c) => cidrContains(c, ip));
      const byService = r.services !== null && item.peer.class === 'service' && item.peer.name !== undefined && r.services.some((re) => re.test(item.peer.name!));
      const byName = r.dnsNames !== null && obs.peerName !== null && r.dnsNames.some((re) => re.test(obs.peerName!.toLowerCase()));
      if (!byCidr && !byService && !byName) continue;
    }
    return describeNetworkRule(r);
  }
  return null;
}

export function describeNetworkRule(r: NetworkRule): string {
  const parts = ['network', r.direction ?? 'any direction', r.protocol ?? 'tcp/udp'];
  if (r.ports) parts.push(`ports ${r.ports.map(([lo, hi]) => (lo === hi ? `${lo}` : `${lo}-${hi}`)).join(',')}`);
  if (r.cidrs) parts.push(`cidrs ${r.cidrs.map((c) => c.text).join(',')}`);
  if (r.services) parts.push('services');
  if (r.dnsNames) parts.push('dnsNames');
  return parts.join(' ');
}

export interface DeclaredBaselinesOptions {
  dir: string;
  /** Called after a reload that changed what is in force. */
  onChange?: () => void;
  onError?: (errors: DeclaredError[]) => void;
  debounceMs?: number;
}

export interface ReloadResult {
  files: string[];
  baselines: number;
  errors: DeclaredError[];
  changed: boolean;
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

/** The declared baselines of one directory (top-level `*.yaml` / `*.yml` files), kept current. */
export class DeclaredBaselines {
  private readonly byFile = new Map<string, { text: string; baselines: DeclaredBaseline[] }>();
  private readonly cache = new Map<string, EffectiveDeclared>();
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private lastErrors: DeclaredError[] = [];
  /** Increments whenever what is in force changes. */
  generation = 0;

  constructor(private readonly opts: DeclaredBaselinesOptions) {}

  /** Re-reads every file; a broken file keeps its last good content. */
  reload(): ReloadResult {
    let names: string[] = [];
    try {
      names = readdirSync(this.opts.dir, { withFileTypes: true })
        // A ConfigMap volume presents its files as symlinks (name -> ..data/name): follow them.
        .filter((d) => /\.ya?ml$/.test(d.name) && !d.name.startsWith('.') && (d.isFile() || (d.isSymbolicLink() && isFileBehindLink(join(this.opts.dir, d.name)))))
        .map((d) => d.name)
        .sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        const e = { file: this.opts.dir, line: 1, column: 1, reason: `cannot read directory: ${(err as NodeJS.ErrnoException).code ?? String(err)}` };
        this.lastErrors = [e];
        this.opts.onError?.([e]);
        return { files: [], baselines: this.count(), errors: [e], changed: false };
      }
    }
    const errors: DeclaredError[] = [];
    let changed = false;
    const present = new Set(names);
    for (const file of [...this.byFile.keys()]) {
      if (!present.has(file)) {
        this.byFile.delete(file);
        changed = true;
      }
    }
    for (const name of names) {
      const path = join(this.opts.dir, name);
      let text: string;
      try {
        text = readFileSync(path, 'utf8');
      } catch (err) {
        errors.push({ file: path, line: 1, column: 1, reason: `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}` });
        continue;
      }
      if (this.byFile.get(name)?.text === text) continue;
      const parsed = parseDeclaredFile(path, text);
      if ('errors' in parsed) {
        errors.push(...parsed.errors);
        continue;
      }
      this.byFile.set(name, { text, baselines: parsed.baselines });
      changed = true;
    }
    if (changed) {
      this.cache.clear();
      this.generation++;
    }
    this.lastErrors = errors;
    if (errors.length) this.opts.onError?.(errors);
    if (changed) this.opts.onChange?.();
    return { files: names, baselines: this.count(), errors, changed };
  }

  /** Problems of the last reload (empty when every file is in force). */
  errors(): DeclaredError[] {
    return this.lastErrors;
  }

  all(): DeclaredBaseline[] {
    return [...this.byFile.values()].flatMap((f) => f.baselines);
  }

  forWorkload(w: WorkloadId): EffectiveDeclared {
    const key = `${w.cluster}\u0000${w.namespace}\u0000${w.kind}\u0000${w.name}\u0000${w.container}`;
    let eff = this.cache.get(key);
    if (eff) return eff;
    const matching = this.all().filter((b) => selects(b, w));
    eff = matching.length === 0 ? EMPTY : merge(matching);
    if (this.cache.size >= 50_000) this.cache.clear();
    this.cache.set(key, eff);
    return eff;
  }

  /** Watches the directory (debounced) until close(). */
  watch(): void {
    if (this.watcher) return;
    try {
      this.watcher = watch(this.opts.dir, { persistent: false }, () => this.schedule());
      this.watcher.on('error', () => this.schedule());
    } catch {
      // No directory (yet): nothing declared; reload() can still be called by hand.
      this.watcher = null;
    }
  }

  close(): void {
    this.watcher?.close();
    this.watcher = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.reload();
    }, this.opts.debounceMs ?? 250);
    this.timer.unref();
  }

  private count(): number {
    return this.all().length;
  }
}

function selects(b: DeclaredBaseline, w: WorkloadId): boolean {
  const s = b.selector;
  return (
    (!s.cluster || s.cluster.test(w.cluster)) &&
    (!s.namespace || s.namespace.test(w.namespace)) &&
    (!s.kind || s.kind === w.kind) &&
    (!s.workload || s.workload.test(w.name)) &&
    (!s.container || s.container.test(w.container))
  );
}

function merge(list: DeclaredBaseline[]): EffectiveDeclared {
  return {
    sources: list.map((b) => `${b.file}#${b.name}`),
    mode: list.some((b) => b.mode === 'replace') ? 'replace' : 'extend',
    imagePolicy: list.find((b) => b.imagePolicy !== null)?.imagePolicy ?? null,
    allow: { processes: list.flatMap((b) => b.allow.processes), network: list.flatMap((b) => b.allow.network) },
    deny: { processes: list.flatMap((b) => b.deny.processes), network: list.flatMap((b) => b.deny.network) },
  };
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

function isFileBehindLink(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
