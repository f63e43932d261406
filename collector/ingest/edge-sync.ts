/**
 * Keeps one agent's edge baselines in step with the collector's, over that agent's stream.
 *
 * Incremental and bounded: the agent says which baseline (by content hash) it holds for each
 * workload it announces; only what differs is sent, as deltas of at most `MAX_EDGE_MESSAGE_BYTES`
 * each — no message size depends on how many workloads a node runs (the agent's gRPC client keeps
 * its 4 MiB receive limit). A single baseline larger than that travels with a prefix of its allow
 * list: the edge then drops less, never more, than the collector would.
 *
 * Converging: a change marks its workloads dirty and a single loop per stream recomputes them from
 * the store just before sending, so a change that commits while a message is being built is sent
 * by the next pass, and a slow computation can never overwrite a newer delta with an older one.
 * Each delta carries a version the agent acknowledges; what is sent but not acknowledged is the
 * lag the metrics show (`driftwatch_collector_agent_edge_*`). After a reconnect the agent again
 * says what it holds, so whatever a broken stream lost is sent again.
 */
import { Buffer } from 'node:buffer';
import type { EdgeBaseline } from '../../common/edge-baseline.js';
import type { WorkloadId } from '../../common/model.js';
import { workloadKey } from '../../common/model.js';
import { edgeBaselineToWire, type CollectorMessage, type WireEdgeBaseline, type WireWorkload } from '../../common/wire.js';

/** Upper bound of one delta message (a quarter of gRPC's default 4 MiB receive limit). */
export const MAX_EDGE_MESSAGE_BYTES = 1024 * 1024;
/** Encoded bytes of a baseline besides its allow keys (workload, hash, phase, globs' framing). */
const BASELINE_OVERHEAD_BYTES = 512;

export interface EdgeSyncTarget {
  /** The edge baselines of these workloads as the store has them now (absent: none). */
  forWorkloads(workloads: readonly WorkloadId[]): Promise<EdgeBaseline[]>;
  /** Writes a message to the agent; resolves when the stream can take more (or is gone). */
  write(msg: CollectorMessage): Promise<void>;
  /** False once the stream ended: the loop stops. */
  open(): boolean;
  /** A failure computing baselines (store error): logged; the workloads stay dirty. */
  onError(err: unknown): void;
  /** A baseline's allow list was cut to fit one message. */
  onTruncated(): void;
}

interface Unacknowledged {
  version: number;
  sentAtMs: number;
  baselines: number;
}

/** Encoded size of one allow key in a repeated string field: tag, length varint, bytes. */
function keyBytes(key: string): number {
  return Buffer.byteLength(key) + 4;
}

/** The baseline as sent: its allow list cut (keeping a sorted prefix) to fit one message. */
function bounded(b: EdgeBaseline): { wire: WireEdgeBaseline; bytes: number } {
  let bytes = BASELINE_OVERHEAD_BYTES + b.alwaysSend.reduce((n, g) => n + keyBytes(g), 0);
  let keep = 0;
  for (; keep < b.allow.length; keep++) {
    const next = bytes + keyBytes(b.allow[keep]!);
    if (next > MAX_EDGE_MESSAGE_BYTES) break;
    bytes = next;
  }
  const wire = edgeBaselineToWire(keep === b.allow.length ? b : { ...b, allow: b.allow.slice(0, keep) });
  return { wire, bytes };
}

export class EdgeSync {
  /** Workloads the agent announced, by key. */
  readonly workloads = new Map<string, WorkloadId>();
  /** The hash the agent holds (or was sent) per workload key. */
  private readonly held = new Map<string, string>();
  private readonly dirty = new Set<string>();
  private readonly unacknowledged: Unacknowledged[] = [];
  private version = 0;
  private acknowledged = 0;
  private loop: Promise<void> | undefined;

  constructor(private readonly target: EdgeSyncTarget) {}

  /**
   * The agent announced workloads, with the hash it holds for each ('' or absent: none); false
   * when that would pass `limit` workloads (nothing past it is taken).
   */
  announce(workloads: readonly WorkloadId[], hashes: readonly string[], limit: number): boolean {
    let within = true;
    workloads.forEach((w, i) => {
      const key = workloadKey(w);
      if (!this.workloads.has(key)) {
        if (this.workloads.size >= limit) {
          within = false;
          return;
        }
        this.workloads.set(key, w);
      }
      const hash = hashes[i];
      if (hash) this.held.set(key, hash);
      else this.held.delete(key);
      this.dirty.add(key);
    });
    this.kick();
    return within;
  }

  /** These workloads' baselines may have changed: re-check those the agent runs. */
  changed(workloads: readonly WorkloadId[]): void {
    let any = false;
    for (const w of workloads) {
      const key = workloadKey(w);
      if (this.workloads.has(key)) {
        this.dirty.add(key);
        any = true;
      }
    }
    if (any) this.kick();
  }

  /** The agent applied every delta up to `version`. */
  acknowledge(version: number): void {
    if (version > this.version) return;
    this.acknowledged = Math.max(this.acknowledged, version);
    while (this.unacknowledged.length && this.unacknowledged[0]!.version <= version) this.unacknowledged.shift();
  }

  /** For the per-agent metrics: version acknowledged, baselines not yet in force there, their age. */
  state(nowMs: number): { version: number; pending: number; lagSeconds: number } {
    const pending = this.dirty.size + this.unacknowledged.reduce((n, u) => n + u.baselines, 0);
    const oldest = this.unacknowledged[0]?.sentAtMs;
    return { version: this.acknowledged, pending, lagSeconds: oldest === undefined ? 0 : Math.max(0, nowMs - oldest) / 1000 };
  }

  /** Resolves when nothing is being sent (tests, close). */
  async idle(): Promise<void> {
    while (this.loop) await this.loop;
  }

  private kick(): void {
    this.loop ??= this.run().finally(() => {
      this.loop = undefined;
    });
  }

  private async run(): Promise<void> {
    while (this.dirty.size && this.target.open()) {
      const keys = [...this.dirty];
      this.dirty.clear();
      let current: EdgeBaseline[];
      try {
        current = await this.target.forWorkloads(keys.map((k) => this.workloads.get(k)!));
      } catch (err) {
        for (const k of keys) this.dirty.add(k);
        this.target.onError(err);
        return;
      }
      await this.send(keys, current);
    }
  }

  /** Sends what differs from what the agent holds, in messages of bounded size. */
  private async send(keys: readonly string[], current: readonly EdgeBaseline[]): Promise<void> {
    const byKey = new Map(current.map((b) => [workloadKey(b.workload), b]));
    let upserts: WireEdgeBaseline[] = [];
    let removed: WireWorkload[] = [];
    let bytes = 0;
    const flush = async (): Promise<void> => {
      if (!upserts.length && !removed.length) return;
      const version = ++this.version;
      this.unacknowledged.push({ version, sentAtMs: Date.now(), baselines: upserts.length + removed.length });
      const msg: CollectorMessage = { delta: { version, upserts, removed } };
      upserts = [];
      removed = [];
      bytes = 0;
      await this.target.write(msg);
    };
    for (const key of keys) {
      if (!this.target.open()) return;
      const b = byKey.get(key);
      if (!b) {
        // The collector has no baseline (any more) for a workload the agent filters with one.
        if (this.held.delete(key)) {
          removed.push(this.workloads.get(key)!);
          bytes += BASELINE_OVERHEAD_BYTES;
        }
      } else if (this.held.get(key) !== b.hash) {
        const { wire, bytes: size } = bounded(b);
        if (wire.allow.length < b.allow.length) this.target.onTruncated();
        if (bytes + size > MAX_EDGE_MESSAGE_BYTES) await flush();
        upserts.push(wire);
        bytes += size;
        this.held.set(key, b.hash);
      }
      if (bytes >= MAX_EDGE_MESSAGE_BYTES) await flush();
    }
    await flush();
  }
}
