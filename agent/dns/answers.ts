/**
 * Names learned from DNS: the answers a workload received (Tetragon captures the payloads of UDP
 * port-53 receives, deploy/…/tracingpolicy.yaml), so that its later connections to those addresses
 * carry the name it asked for (`api.stripe.com`) instead of an address from a rotating pool.
 *
 * - Per workload: a CDN address answers for many names; what one workload asked for says nothing
 *   about another's connection to the same address.
 * - The name is the question (what the client asked for): CNAME chains are followed from it to
 *   the A/AAAA records, so `bucket.s3.amazonaws.com → s3-r-w.eu-west-1.amazonaws.com → 52.218.1.2`
 *   names 52.218.1.2 `bucket.s3.amazonaws.com`.
 * - TTLs are respected, plus a grace period: clients and connection pools reuse an answer after
 *   its TTL (Java caches 30 s whatever the TTL, pools reconnect to the address they hold).
 * - Bounded (oldest entry out first) and in event time, like every other window.
 *
 * Resolvers whose lookups are invisible here (musl's unconnected sockets, DNS over TCP, DoH/DoT)
 * leave connections without a name; the collector then identifies the peer by address, named
 * address set or prefix.
 */
import dnsPacket from 'dns-packet';
import { normaliseDnsName as normaliseName } from '../../common/items/derive.js';
import { normaliseIp, type WorkloadId } from '../../common/model.js';

export interface DnsAnswersOptions {
  /** Entries kept across all workloads (default 65,536). */
  maxEntries?: number;
  /** How long past its TTL an answer still names the address (default 15 min). */
  graceMs?: number;
}

interface Entry {
  workload: WorkloadId;
  ip: string;
  name: string;
  /** Event time until which the answer names the address (TTL + grace). */
  untilMs: number;
}

export type AnswerResult = 'recorded' | 'not-an-answer' | 'undecodable';

export class DnsAnswers {
  /** Workload (interned by the identity resolver) → address → entry. */
  private readonly byWorkload = new Map<WorkloadId, Map<string, Entry>>();
  /** Every entry, oldest first (re-inserted when refreshed). */
  private readonly order = new Set<Entry>();
  private readonly maxEntries: number;
  private readonly graceMs: number;

  constructor(opts: DnsAnswersOptions = {}) {
    this.maxEntries = opts.maxEntries ?? 65_536;
    this.graceMs = opts.graceMs ?? 15 * 60_000;
  }

  get size(): number {
    return this.order.size;
  }

  /** Records what one DNS response (wire format) tells, for the workload that received it. */
  record(workload: WorkloadId, payload: Uint8Array, timeMs: number): AnswerResult {
    // dns-packet decodes the response code too (as a name); its typings leave it out.
    let msg: dnsPacket.Packet & { rcode?: string };
    try {
      msg = dnsPacket.decode(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength));
    } catch {
      return 'undecodable';
    }
    const question = msg.questions?.[0]?.name;
    if (msg.type !== 'response' || !question || msg.rcode !== 'NOERROR') return 'not-an-answer';
    const asked = normaliseName(question);
    // The names the question leads to through CNAMEs, each with the lowest TTL on its way.
    const reach = new Map<string, number>([[asked, Number.MAX_SAFE_INTEGER]]);
    const answers = msg.answers ?? [];
    for (let changed = true, rounds = 0; changed && rounds < 16; rounds++) {
      changed = false;
      for (const a of answers) {
        if (a.type !== 'CNAME') continue;
        const from = reach.get(normaliseName(a.name));
        const to = normaliseName(String(a.data));
        const ttl = Math.min(from ?? 0, a.ttl ?? 0);
        if (from !== undefined && (reach.get(to) ?? -1) < ttl) {
          reach.set(to, ttl);
          changed = true;
        }
      }
    }
    let recorded = false;
    for (const a of answers) {
      if (a.type !== 'A' && a.type !== 'AAAA') continue;
      const via = reach.get(normaliseName(a.name));
      const ip = normaliseIp(String(a.data));
      if (via === undefined || ip === null) continue;
      this.put(workload, ip, asked, timeMs + Math.min(via, a.ttl ?? 0) * 1000 + this.graceMs);
      recorded = true;
    }
    return recorded ? 'recorded' : 'not-an-answer';
  }

  /** The name the workload resolved to this address, if an answer still covers `timeMs`. */
  nameOf(workload: WorkloadId, ip: string | null, timeMs: number): string | null {
    if (ip === null) return null;
    const e = this.byWorkload.get(workload)?.get(ip);
    return e && timeMs <= e.untilMs ? e.name : null;
  }

  private put(workload: WorkloadId, ip: string, name: string, untilMs: number): void {
    let byIp = this.byWorkload.get(workload);
    if (!byIp) this.byWorkload.set(workload, (byIp = new Map()));
    const old = byIp.get(ip);
    if (old) {
      // The later answer wins (a name moved to another address, or the same one refreshed).
      if (old.name === name && old.untilMs >= untilMs) return;
      this.order.delete(old);
    }
    const e: Entry = { workload, ip, name, untilMs };
    byIp.set(ip, e);
    this.order.add(e);
    while (this.order.size > this.maxEntries) {
      const oldest = this.order.values().next().value as Entry;
      this.order.delete(oldest);
      const m = this.byWorkload.get(oldest.workload);
      if (m?.get(oldest.ip) === oldest) m.delete(oldest.ip);
      if (m?.size === 0) this.byWorkload.delete(oldest.workload);
    }
  }
}
