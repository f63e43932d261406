/**
 * Edge baselines: the effective baseline of each workload in the form the agent filters with
 * (`common/edge-baseline.ts`), so that what a baseline already allows is dropped on the node.
 *
 * The edge may only drop what the collector would allow: items learned as steady, declared allow
 * rules it can hold exactly, never what a deny rule could match, and — while learning — it sends
 * every run of an argument-sensitive exe (see `argumentSensitivePaths`).
 */
import { createHash } from 'node:crypto';
import { cidrsOverlap, parseCidr } from '../../common/cidr.js';
import type { EdgeBaseline } from '../../common/edge-baseline.js';
import type { ItemDeriver } from '../../common/items/derive.js';
import { imageKey, networkKey, parseNetworkKey } from '../../common/items/keys.js';
import type { WorkloadId } from '../../common/model.js';
import type { Repositories } from '../store/contract.js';
import type { DeclaredBaselines, EffectiveDeclared, RuleSet } from './declared.js';
import type { BaselineView, BaselineViews } from './view.js';

export class EdgeBaselines {
  private readonly listeners = new Set<(changed: EdgeBaseline[]) => void>();

  constructor(
    private readonly store: Repositories,
    private readonly views: BaselineViews,
    private readonly declared: DeclaredBaselines,
    private readonly deriver: ItemDeriver,
    private readonly dedupMs: number,
  ) {}

  /** The edge baselines of these workloads (an agent's snapshot). */
  async forWorkloads(workloads: readonly WorkloadId[]): Promise<EdgeBaseline[]> {
    const ids: number[] = [];
    for (const w of workloads) {
      const id = await this.store.workloads.find(w);
      if (id !== undefined) ids.push(id);
    }
    return this.forIds(ids);
  }

  /** Pushes the edge baselines of these workloads to every listener (the ingest server's agents). */
  async changed(workloadIds: Iterable<number>): Promise<void> {
    const ids = [...workloadIds];
    if (!ids.length || !this.listeners.size) return;
    const changed = await this.forIds(ids);
    if (changed.length) for (const l of this.listeners) l(changed);
  }

  /** Every workload's effective baseline may have changed (declared baselines reloaded). */
  async allChanged(): Promise<void> {
    await this.changed((await this.store.workloads.all()).map((w) => w.id));
  }

  onChange(listener: (changed: EdgeBaseline[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.listeners.clear();
  }

  private async forIds(workloadIds: readonly number[]): Promise<EdgeBaseline[]> {
    const out: EdgeBaseline[] = [];
    for (const workloadId of workloadIds) {
      const view = await this.views.current(this.store, workloadId);
      if (view) out.push(this.edgeOf(view));
    }
    return out;
  }

  private edgeOf(view: BaselineView): EdgeBaseline {
    const decl = this.declared.forWorkload(view.workload);
    const keys = new Set<string>();
    for (const d of view.b.imageDigests) keys.add(imageKey(d));
    const add = (key: string): void => {
      if (!denyMayMatch(decl.deny, key)) keys.add(key);
    };
    if (decl.mode !== 'replace') {
      for (const it of view.items.values()) {
        if (it.phase !== 'steady') continue;
        for (const k of this.deriver.edgeKeys(it.key) ?? []) add(k);
      }
    }
    for (const k of declaredEdgeKeys(decl.allow)) add(k);
    const phase: EdgeBaseline['phase'] = view.b.phase === 'learning' ? 'learning' : view.b.phase === 'approved' ? 'approved' : 'active';
    const allow = [...keys].sort();
    const alwaysSend = argumentSensitivePaths(decl);
    const hash = createHash('sha256').update(`${phase}\n${this.dedupMs}\n${allow.join('\n')}\n\n${alwaysSend.join('\n')}`).digest('hex').slice(0, 16);
    return { workload: view.workload, hash, phase, allow, learningDedupWindowMs: this.dedupMs, alwaysSend };
  }
}

/** Could a deny rule match something this edge key lets through? Then the edge must not drop it. */
function denyMayMatch(deny: RuleSet, key: string): boolean {
  if (key.startsWith('i|')) return false;
  if (key.startsWith('p|')) {
    const exe = key.slice(2).replace(/%7C/g, '|').replace(/%25/g, '%');
    return deny.processes.some((r) => r.pathGlob.test(exe));
  }
  const parsed = parseNetworkKey(key);
  if (!parsed) return true;
  const keyCidr = parsed.peer.startsWith('ip|') ? parseCidr(parsed.peer.slice(3)) : parsed.peer.startsWith('net|') ? parseCidr(parsed.peer.slice(4)) : parsed.peer === 'lo' ? parseCidr('127.0.0.0/8') : null;
  for (const r of deny.network) {
    if (r.direction && r.direction !== parsed.direction) continue;
    if (r.protocol && r.protocol !== parsed.protocol) continue;
    if (r.ports && parsed.port !== null && !r.ports.some(([lo, hi]) => parsed.port! >= lo && parsed.port! <= hi)) continue;
    if (!r.cidrs && !r.services && !r.dnsNames) return true;
    if (r.services || r.dnsNames) return true;
    if (parsed.peer === '-') continue;
    if (!keyCidr || r.cidrs!.some((c) => cidrsOverlap(c, keyCidr)) || (parsed.peer === 'lo' && r.cidrs!.some((c) => c.v === 6))) return true;
  }
  return false;
}

/**
 * Exe globs whose every run the collector must see, even while learning: a deny rule with args
 * fires on some runs of an exe and not others, and so does an allow rule with args when the
 * declared set is the whole baseline (replace). The edge's learning dedup keys on the exe alone,
 * so without this a harmless run would hide the next, denied one.
 */
function argumentSensitivePaths(decl: EffectiveDeclared): string[] {
  const paths = new Set<string>();
  for (const r of decl.deny.processes) if (r.args) paths.add(r.path);
  if (decl.mode === 'replace') for (const r of decl.allow.processes) if (r.args) paths.add(r.path);
  return [...paths].sort();
}

/** The declared allow rules the edge can hold exactly: exact paths without args, CIDRs with ports. */
function declaredEdgeKeys(allow: RuleSet): string[] {
  const keys: string[] = [];
  for (const p of allow.processes) if (p.exact && !p.args) keys.push(`p|${p.path.replace(/%/g, '%25').replace(/\|/g, '%7C')}`);
  for (const n of allow.network) {
    if (!n.direction || !n.ports || n.services || n.dnsNames) continue;
    const ports: number[] = [];
    for (const [lo, hi] of n.ports) for (let p = lo; p <= hi && ports.length <= 64; p++) ports.push(p);
    if (ports.length > 64) continue;
    const peers = n.direction === 'listen' ? ['-'] : n.cidrs ? n.cidrs.map((c) => `net|${c.text}`) : null;
    if (!peers) continue;
    for (const proto of n.protocol ? [n.protocol] : (['tcp', 'udp'] as const)) for (const port of ports) for (const peer of peers) keys.push(networkKey(n.direction, proto, port, peer));
  }
  return keys;
}
