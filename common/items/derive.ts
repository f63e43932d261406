/**
 * Items from observations: the collector derives them with its knowledge of the cluster's ranges
 * and (when available) a resolver of pod and Service addresses.
 */
import { CidrList, generalisationPrefix, isLoopbackIp } from '../cidr.js';
import type { NetworkObservation, Observation, ProcessObservation } from '../model.js';
import { normaliseIp } from '../model.js';
import { generaliseArgs } from './args.js';
import { networkKey, parseNetworkKey, processKey, type Item, type NetworkItem, type Peer, type ProcessItem } from './keys.js';

/** Who owns an in-cluster address: the collector may know it from the Kubernetes API. */
export interface PeerResolver {
  /** A pod IP → its workload as `<namespace>/<kind>/<name>`, or null. */
  workloadOf(ip: string): string | null;
  /** A Service ClusterIP → `<namespace>/<name>`, or null. */
  serviceOf(ip: string): string | null;
}

export interface NetworkScope {
  podCidrs: readonly string[];
  serviceCidrs: readonly string[];
  nodeCidrs: readonly string[];
}

/** Named address sets (collector/addresses): which set an external address belongs to. */
export interface AddressSetLookup {
  setOf(ip: string): string | null;
  /** The CIDRs that hold exactly the set's addresses, or null when CIDRs alone cannot say it. */
  exactCidrsOf(set: string): readonly string[] | null;
}

/** Declared names the collector resolves itself (collector/addresses/declared-names.ts). */
export interface DeclaredNameLookup {
  /** The declared name this external address was answered for lately, or null. */
  nameOf(ip: string): string | null;
}

/** Edge keys of a named set beyond this many CIDRs are not worth the agent's memory: sent instead. */
const MAX_EDGE_SET_CIDRS = 256;

/** A DNS name as a peer: lower case, no trailing dot (`API.Stripe.com.` is `api.stripe.com`). */
export function normaliseDnsName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}


/** The port that identifies a connection: the server side (never the ephemeral client port). */
export function servicePort(obs: NetworkObservation): number | null {
  return obs.direction === 'egress' ? obs.peerPort : obs.localPort;
}

/**
 * Derives items from observations with the collector's knowledge: configured ranges and, when
 * available, a resolver of pod and service addresses.
 */
export class ItemDeriver {
  private readonly pods: CidrList;
  private readonly services: CidrList;
  private readonly nodes: CidrList;

  constructor(
    readonly scope: NetworkScope,
    private readonly resolver: PeerResolver | null = null,
    private readonly sets: AddressSetLookup | null = null,
    private readonly declaredNames: DeclaredNameLookup | null = null,
  ) {
    this.pods = new CidrList(scope.podCidrs);
    this.services = new CidrList(scope.serviceCidrs);
    this.nodes = new CidrList(scope.nodeCidrs);
  }

  derive(obs: Observation): Item {
    return obs.kind === 'process' ? deriveProcessItem(obs) : this.deriveNetwork(obs);
  }

  classifyPeer(rawIp: string | null): Peer {
    const ip = normaliseIp(rawIp);
    if (ip === null || ip === '0.0.0.0' || ip === '::') return { class: 'none' };
    if (isLoopbackIp(ip)) return { class: 'loopback' };
    if (this.services.contains(ip)) {
      const name = this.resolver?.serviceOf(ip) ?? null;
      return name ? { class: 'service', ip, name } : { class: 'service', ip };
    }
    if (this.pods.contains(ip)) {
      const owner = this.resolver?.workloadOf(ip) ?? null;
      return owner ? { class: 'workload', name: owner } : { class: 'pod-cidr' };
    }
    if (this.nodes.contains(ip)) return { class: 'node-cidr' };
    const set = this.sets?.setOf(ip) ?? null;
    return set ? { class: 'address-set', ip, name: set } : { class: 'external', ip };
  }

  /**
   * The peer of a connection: a name the workload resolved (DNS learning) beats the address an
   * external name answered from, which rotates; in-cluster peers keep their own identity.
   */
  private peerOf(obs: NetworkObservation): Peer {
    if (obs.direction === 'listen') return { class: 'none' };
    const byAddress = this.classifyPeer(obs.peerIp);
    if (obs.direction !== 'egress' || (byAddress.class !== 'external' && byAddress.class !== 'address-set')) return byAddress;
    // The agent's name first (what this workload resolved), else a declared name the collector
    // resolved to this address (the workload's own lookup was invisible: musl, DNS over TLS).
    const name = obs.peerName ? normaliseDnsName(obs.peerName) : byAddress.ip ? this.declaredNames?.nameOf(byAddress.ip) : null;
    return name ? { class: 'dns-name', name, ...(byAddress.ip ? { ip: byAddress.ip } : {}) } : byAddress;
  }

  private deriveNetwork(obs: NetworkObservation): NetworkItem {
    const peer = this.peerOf(obs);
    const port = servicePort(obs);
    return {
      kind: 'network',
      key: networkKey(obs.direction, obs.protocol, port, peer),
      direction: obs.direction,
      protocol: obs.protocol,
      port,
      peer,
      peerName: obs.peerName ?? (peer.class === 'dns-name' ? (peer.name ?? null) : null),
    };
  }

  /**
   * Keys that allow this item, most specific first: the item's own key, then the broader keys a
   * baseline may hold instead (the external address's prefix; the pod-cidr class for a pod that
   * a resolver attributed to a workload).
   */
  candidateKeys(item: Item): string[] {
    if (item.kind === 'process') return [item.key];
    const keys = [item.key];
    let peer = item.peer;
    if (peer.class === 'dns-name' && peer.ip) {
      // A name the baseline never saw may still be an address it learned (before DNS learning,
      // or while the agent's answer cache missed): the address keys follow the name.
      peer = this.classifyPeer(peer.ip);
      keys.push(networkKey(item.direction, item.protocol, item.port, peer));
    }
    if (peer.class === 'address-set' && peer.ip) {
      // Learned before the set was loaded: the exact address or its prefix.
      keys.push(networkKey(item.direction, item.protocol, item.port, `ip|${peer.ip}`));
      peer = { class: 'external', ip: peer.ip };
    }
    if (peer.class === 'external' && peer.ip) {
      const prefix = generalisationPrefix(peer.ip);
      if (prefix) keys.push(networkKey(item.direction, item.protocol, item.port, `net|${prefix}`));
    } else if (item.peer.class === 'workload') {
      keys.push(networkKey(item.direction, item.protocol, item.port, 'class|pod-cidr'));
    }
    return keys;
  }

  /**
   * The edge form of a class key: the agent does not know the configured ranges, so a
   * `class|pod-cidr` item is sent as one `net|<cidr>` key per configured pod range. Returns null
   * for keys the agent cannot evaluate safely (resolved workloads): those are always sent.
   */
  edgeKeys(key: string): string[] | null {
    const parsed = parseNetworkKey(key);
    if (!parsed) return key.startsWith('p|') ? [key] : null;
    const { peer } = parsed;
    if (peer.startsWith('wl|')) return null;
    if (peer.startsWith('set|')) {
      const cidrs = this.sets?.exactCidrsOf(peer.slice(4)) ?? null;
      if (cidrs === null || cidrs.length === 0 || cidrs.length > MAX_EDGE_SET_CIDRS) return null;
      return cidrs.map((cidr) => networkKey(parsed.direction, parsed.protocol, parsed.port, `net|${cidr}`));
    }
    if (peer === 'class|pod-cidr' || peer === 'class|node-cidr') {
      const list = peer === 'class|pod-cidr' ? this.pods : this.nodes;
      return list.texts.map((cidr) => networkKey(parsed.direction, parsed.protocol, parsed.port, `net|${cidr}`));
    }
    return [key];
  }
}

export function deriveProcessItem(obs: ProcessObservation): ProcessItem {
  return { kind: 'process', key: processKey(obs.process.exe), exe: obs.process.exe, argsPattern: generaliseArgs(obs.process.args) };
}

