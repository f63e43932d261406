/**
 * Declared baselines: YAML documents (schema: baselines/schema.json) under `collector.baselinesDir`,
 * reviewed in git. Each names workload containers by glob selectors and says what they may do
 * (`allow`, extending or replacing the learned baseline) and what they must never do (`deny`).
 *
 * Loading is per file and all-or-nothing: a file with any problem is rejected with
 * file:line:column and the reason, and that file's last good content stays in force — also after
 * a restart (declared-last-good.ts). A file that is empty (nothing but white space) is such a
 * problem: far more often a truncated write or a broken checkout than an intent. Deleting the file
 * removes its baselines; so does a file that says so (only comments, or an empty `---` document).
 */
import type { ImagePolicy } from '../store/workloads.js';
import { readFileSync, readdirSync, statSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import type { Glob } from '../../common/glob.js';
import { cidrContains, type Cidr } from '../../common/cidr.js';
import { servicePort } from '../../common/items/derive.js';
import { type Item } from '../../common/items/keys.js';
import type { NetworkDirection, L4Protocol, Observation, WorkloadId, WorkloadKind } from '../../common/model.js';
import type { DeclaredLastGoodRepository } from '../store/contract.js';
import { LastGoodMemory } from './declared-last-good.js';
import { parseDeclaredFile } from './declared-parse.js';

export { parseDeclaredFile } from './declared-parse.js';

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
  imagePolicy: ImagePolicy | null;
  selector: { cluster: Glob | null; namespace: Glob | null; kind: WorkloadKind | null; workload: Glob | null; container: Glob | null };
  allow: RuleSet;
  deny: RuleSet;
}

/** What applies to one workload container: the union of every matching declared baseline. */
export interface EffectiveDeclared {
  /** Names of the declared baselines that apply (`file#name`). */
  sources: string[];
  mode: DeclaredMode | null;
  imagePolicy: ImagePolicy | null;
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
      // The item's name: the agent's, or a declared name the collector resolved to this address.
      const name = item.peerName ?? obs.peerName;
      const byName = r.dnsNames !== null && name !== null && r.dnsNames.some((re) => re.test(name.toLowerCase()));
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
  /** Where each file's last good text is kept across restarts (none: only in memory). */
  lastGood?: DeclaredLastGoodRepository;
  /** Saving a file's last good text failed (it stays in force in memory). */
  onSaveError?: (file: string, err: unknown) => void;
}

/** One file of the directory: what of it is in force, and its problem if it has one. */
export interface DeclaredFileStatus {
  /** The file's path (as errors name it). */
  file: string;
  /** `current`: the file as it is; `last-good`: the file has a problem, its last good content is in force; `none`: neither. */
  inForce: 'current' | 'last-good' | 'none';
  /** The baselines in force from it, with their namespace selector (null: every namespace). */
  baselines: { name: string; namespace: string | null }[];
  error: DeclaredError | null;
  /** When the content in force was last loaded without an error (last-good only). */
  lastGoodSince: string | null;
}

export interface ReloadResult {
  files: string[];
  baselines: number;
  errors: DeclaredError[];
  changed: boolean;
}

/** The declared baselines of one directory (top-level `*.yaml` / `*.yml` files), kept current. */
export class DeclaredBaselines {
  private readonly byFile = new Map<string, { text: string; baselines: DeclaredBaseline[] }>();
  private readonly cache = new Map<string, EffectiveDeclared>();
  private readonly lastGood: LastGoodMemory;
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private lastErrors: DeclaredError[] = [];
  /** The files of the last reload, each with its problem (if any). */
  private files: { name: string; path: string; error: DeclaredError | null }[] = [];
  /** Increments whenever what is in force changes. */
  generation = 0;

  constructor(private readonly opts: DeclaredBaselinesOptions) {
    this.lastGood = new LastGoodMemory(opts.lastGood, opts.onSaveError ?? (() => undefined));
  }

  /** Reads the last good content kept by the previous run (call before the first reload). */
  restore(): Promise<void> {
    return this.lastGood.load();
  }

  /** Resolves when every file's last good text has been saved. */
  saved(): Promise<void> {
    return this.lastGood.saved();
  }

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
        if (!this.byFile.has(name)) changed = this.restoreLastGood(name, path, errors) || changed;
        continue;
      }
      if (this.byFile.get(name)?.text === text) continue;
      const parsed = text.trim() === '' ? { errors: [emptyFileError(path)] } : parseDeclaredFile(path, text);
      if ('errors' in parsed) {
        errors.push(...parsed.errors);
        if (!this.byFile.has(name)) changed = this.restoreLastGood(name, path, errors) || changed;
        continue;
      }
      this.byFile.set(name, { text, baselines: parsed.baselines });
      this.lastGood.remember(name, text);
      changed = true;
    }
    this.files = names.map((name) => {
      const path = join(this.opts.dir, name);
      return { name, path, error: errors.find((e) => e.file === path) ?? null };
    });
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

  /** Every file of the last reload: what of it is in force and its problem. */
  status(): DeclaredFileStatus[] {
    return this.files.map(({ name, path, error }) => {
      const inForce = this.byFile.get(name);
      return {
        file: path,
        inForce: !inForce ? 'none' : error ? 'last-good' : 'current',
        baselines: (inForce?.baselines ?? []).map((b) => ({ name: b.name, namespace: b.selector.namespace?.source ?? null })),
        error,
        lastGoodSince: inForce && error ? (this.lastGood.get(name)?.savedAt ?? null) : null,
      };
    });
  }

  /** A file with a problem and nothing of it in force: its last good content (from a previous run) is. */
  private restoreLastGood(name: string, path: string, errors: DeclaredError[]): boolean {
    const kept = this.lastGood.get(name);
    if (!kept) return false;
    const parsed = parseDeclaredFile(path, kept.text);
    if ('errors' in parsed) {
      errors.push(...parsed.errors.map((e) => ({ ...e, reason: `its last good content (of ${kept.savedAt}) no longer loads either: ${e.reason}` })));
      return false;
    }
    this.byFile.set(name, { text: kept.text, baselines: parsed.baselines });
    return true;
  }

  /** The exact (wildcard-free) `dnsNames` of every rule in force: the names the collector resolves. */
  exactDnsNames(): string[] {
    const rules = this.all().flatMap((b) => [...b.allow.network, ...b.deny.network]);
    return [...new Set(rules.flatMap((r) => (r.dnsNames ?? []).map((g) => g.source)).filter((n) => !/[*?]/.test(n)))];
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

function emptyFileError(file: string): DeclaredError {
  return { file, line: 1, column: 1, reason: 'the file is empty (a truncated write or checkout?): delete it to remove its baselines, or leave a comment in it saying why' };
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

function isFileBehindLink(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
