/**
 * Declared names resolved by the collector itself, as Cilium's toFQDNs does: every exact
 * (non-wildcard) name in a declared baseline's `dnsNames` is resolved periodically and every
 * address it answered with is remembered for a while. An external peer at such an address is
 * named after the declared name even when its agent saw no DNS answer (musl's unconnected
 * sockets, DNS over TCP or TLS), so it still matches the declared rule; an address the name never
 * answered with stays an address and alerts.
 *
 * Rotating pools accumulate: each resolution adds its answers, and an address is forgotten only
 * `keepForMs` after the last answer that carried it (clients cache answers and keep connections
 * open long after the TTL). Memory is bounded by `maxNames` × `maxAddressesPerName`; past the
 * latter the address answered longest ago goes first.
 */
import { Resolver } from 'node:dns/promises';
import { Counter, type Registry } from 'prom-client';
import { normaliseDnsName, type DeclaredNameLookup } from '../../common/items/derive.js';
import { normaliseIp } from '../../common/model.js';

export interface DeclaredNameHistoryOptions {
  /** Between two resolutions of every name. */
  intervalMs: number;
  /** An address is forgotten this long after the last answer that carried it. */
  keepForMs: number;
  maxNames: number;
  maxAddressesPerName: number;
  /** DNS servers (`host` or `host:port`); none: the system's (/etc/resolv.conf). */
  servers?: readonly string[];
  /** One query's timeout. */
  timeoutMs?: number;
  registry?: Registry;
  onError?: (name: string, error: string) => void;
  now?: () => number;
}

/** Answers that mean "no address of this family", not a failure. */
const NO_ADDRESSES = new Set(['ENODATA', 'ENOTFOUND', 'NXDOMAIN']);

export class DeclaredNameHistory implements DeclaredNameLookup {
  /** name → address → when it was last answered (ms). Insertion order = least recently answered first. */
  private readonly byName = new Map<string, Map<string, number>>();
  /** address → the names whose history holds it. */
  private readonly byAddress = new Map<string, Set<string>>();
  private names: string[] = [];
  private readonly resolver: Resolver;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private closed = false;
  /** Names whose last resolution failed: logged once when they start failing, not every round. */
  private readonly failing = new Set<string>();
  private readonly resolutions: Counter<'outcome'>;
  /** Declared exact names beyond `maxNames` (not resolved). */
  namesLeftOut = 0;

  constructor(private readonly opts: DeclaredNameHistoryOptions) {
    this.resolver = new Resolver({ timeout: opts.timeoutMs ?? 5000, tries: 2 });
    if (opts.servers?.length) this.resolver.setServers([...opts.servers]);
    this.now = opts.now ?? Date.now;
    this.resolutions = new Counter({
      name: 'driftwatch_declared_name_resolutions_total',
      help: 'Resolutions of declared DNS names by the collector, by outcome (answered, empty, failed)',
      labelNames: ['outcome'],
      registers: opts.registry ? [opts.registry] : [],
    });
  }

  /** The exact declared names to resolve (the first `maxNames` in name order; the rest counted). */
  setNames(names: Iterable<string>): void {
    const unique = [...new Set([...names].map(normaliseDnsName))].sort();
    this.names = unique.slice(0, this.opts.maxNames);
    this.namesLeftOut = unique.length - this.names.length;
    const kept = new Set(this.names);
    for (const name of [...this.byName.keys()]) if (!kept.has(name)) this.forgetName(name);
    for (const name of [...this.failing]) if (!kept.has(name)) this.failing.delete(name);
  }

  /** The declared name an address was answered for (the first in name order when several were). */
  nameOf(ip: string): string | null {
    const names = this.byAddress.get(ip);
    if (!names) return null;
    const now = this.now();
    let best: string | null = null;
    for (const name of names) {
      const at = this.byName.get(name)?.get(ip);
      if (at !== undefined && now - at <= this.opts.keepForMs && (best === null || name < best)) best = name;
    }
    return best;
  }

  /** The addresses remembered for a name, as the API or a test shows them. */
  addressesOf(name: string): string[] {
    return [...(this.byName.get(normaliseDnsName(name))?.keys() ?? [])].sort();
  }

  /** Resolves every name now, then every `intervalMs` until close(). */
  start(): void {
    if (this.timer) return;
    void this.resolveAll();
    this.timer = setInterval(() => void this.resolveAll(), this.opts.intervalMs);
    this.timer.unref();
  }

  /** One round: every name, A and AAAA; answers added, expired addresses forgotten. */
  resolveAll(): Promise<void> {
    // A round still running (slow servers) is not doubled: the next tick joins it.
    this.running ??= (async () => {
      for (const name of this.names) {
        if (this.closed) return;
        await this.resolveOne(name);
      }
      this.expire();
    })().finally(() => (this.running = null));
    return this.running;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.resolver.cancel();
    await this.running?.catch(() => undefined);
  }

  private async resolveOne(name: string): Promise<void> {
    const answered: string[] = [];
    let failure: string | null = null;
    for (const family of [4, 6] as const) {
      try {
        answered.push(...(family === 4 ? await this.resolver.resolve4(name) : await this.resolver.resolve6(name)));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? String(err);
        if (code === 'ECANCELLED') return; // close()
        if (!NO_ADDRESSES.has(code)) failure = code;
      }
    }
    const at = this.now();
    for (const raw of answered) {
      const ip = normaliseIp(raw);
      if (ip !== null && this.names.includes(name)) this.remember(name, ip, at);
    }
    this.resolutions.inc({ outcome: answered.length ? 'answered' : failure ? 'failed' : 'empty' });
    if (failure && !answered.length) {
      if (!this.failing.has(name)) this.opts.onError?.(name, failure);
      this.failing.add(name);
    } else this.failing.delete(name);
  }

  private remember(name: string, ip: string, at: number): void {
    let history = this.byName.get(name);
    if (!history) this.byName.set(name, (history = new Map()));
    history.delete(ip); // re-inserted: most recently answered last
    history.set(ip, at);
    let names = this.byAddress.get(ip);
    if (!names) this.byAddress.set(ip, (names = new Set()));
    names.add(name);
    while (history.size > this.opts.maxAddressesPerName) this.forget(name, history.keys().next().value!);
  }

  private expire(): void {
    const cutoff = this.now() - this.opts.keepForMs;
    for (const [name, history] of this.byName) {
      for (const [ip, at] of history) {
        if (at >= cutoff) break; // in order of last answer: the rest are newer
        this.forget(name, ip);
      }
    }
  }

  private forget(name: string, ip: string): void {
    const history = this.byName.get(name);
    history?.delete(ip);
    if (history?.size === 0) this.byName.delete(name);
    const names = this.byAddress.get(ip);
    names?.delete(name);
    if (names?.size === 0) this.byAddress.delete(ip);
  }

  private forgetName(name: string): void {
    for (const ip of [...(this.byName.get(name)?.keys() ?? [])]) this.forget(name, ip);
  }
}
