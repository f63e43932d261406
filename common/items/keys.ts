/**
 * Baseline items: what an observation *is*, stably enough that restarts, rescheduling, scale-out,
 * ephemeral ports and rotating addresses do not make it new.
 *
 * One item per observation, identified by a string key (deviations are unique per (baseline, key)):
 *
 *   process  `p|<exe path>`                           args are context (generalised patterns)
 *   network  `n|<direction>|<protocol>|<port>|<peer>`  port: the peer's for egress, the local one
 *                                                      for ingress and listen (never ephemeral)
 *   peer     `ip|<address>`     a Service ClusterIP or an external address, exactly
 *            `net|<cidr>`       an external /24 (IPv4) or /48 (IPv6), once generalised; also the
 *                               edge form of a configured range (see edgeKeysForClass)
 *            `wl|<ns>/<kind>/<name>`  a pod IP resolved to its owning workload
 *            `set|<set>`        an external address inside a named address set (`aws:S3:eu-west-1`)
 *            `dns|<name>`       an external peer by the name the workload resolved (`api.stripe.com`)
 *            `class|pod-cidr`, `class|node-cidr`   a pod / node address nobody could resolve
 *            `lo`               loopback
 *            `-`                no peer (listen)
 *
 * The agent's edge filter holds the same keys (EdgeBaseline.allow) plus `i|<digest>` keys naming
 * the image digests the baseline covers. Keys never contain `|` inside a field: exe paths with a
 * `|` are escaped as `%7C`.
 */
import type { L4Protocol, NetworkDirection } from '../model.js';

export type PeerClass = 'service' | 'workload' | 'pod-cidr' | 'node-cidr' | 'loopback' | 'external' | 'external-prefix' | 'address-set' | 'dns-name' | 'none';

/** Peers outside the cluster, however they are named. */
export const EXTERNAL_PEER_CLASSES: ReadonlySet<PeerClass> = new Set(['external', 'external-prefix', 'address-set', 'dns-name']);

export interface Peer {
  class: PeerClass;
  /** service / external: the address. */
  ip?: string;
  /** external-prefix: the range. */
  cidr?: string;
  /**
   * workload: `<namespace>/<kind>/<name>`. service: `<namespace>/<name>` when resolvable.
   * address-set: the set (`aws:S3:eu-west-1`). dns-name: the name the workload resolved.
   */
  name?: string;
}

export interface ProcessItem {
  kind: 'process';
  key: string;
  exe: string;
  argsPattern: string;
}

export interface NetworkItem {
  kind: 'network';
  key: string;
  direction: NetworkDirection;
  protocol: L4Protocol;
  /** null when the source did not tell. */
  port: number | null;
  peer: Peer;
  /**
   * DNS name of the peer when the source gave one, else the declared name the collector resolved
   * to its address (context, and declared `dnsNames`).
   */
  peerName: string | null;
}

export type Item = ProcessItem | NetworkItem;

export function escapeKeyField(s: string): string {
  return s.includes('|') || s.includes('%') ? s.replace(/%/g, '%25').replace(/\|/g, '%7C') : s;
}

export function processKey(exe: string): string {
  return `p|${escapeKeyField(exe)}`;
}

export function peerKey(peer: Peer): string {
  switch (peer.class) {
    case 'service':
    case 'external':
      return `ip|${peer.ip}`;
    case 'external-prefix':
      return `net|${peer.cidr}`;
    case 'workload':
      return `wl|${escapeKeyField(peer.name ?? '')}`;
    case 'address-set':
      return `set|${escapeKeyField(peer.name ?? '')}`;
    case 'dns-name':
      return `dns|${escapeKeyField(peer.name ?? '')}`;
    case 'pod-cidr':
    case 'node-cidr':
      return `class|${peer.class}`;
    case 'loopback':
      return 'lo';
    case 'none':
      return '-';
  }
}

export function networkKey(direction: NetworkDirection, protocol: L4Protocol, port: number | null, peer: Peer | string): string {
  return `n|${direction}|${protocol}|${port ?? '*'}|${typeof peer === 'string' ? peer : peerKey(peer)}`;
}

export function imageKey(digest: string): string {
  return `i|${digest}`;
}
export interface ParsedNetworkKey {
  direction: NetworkDirection;
  protocol: L4Protocol;
  port: number | null;
  /** The peer part, e.g. `ip|1.2.3.4`, `net|10.0.0.0/8`, `lo`, `-`. */
  peer: string;
}

const DIRECTIONS: ReadonlySet<string> = new Set(['egress', 'ingress', 'listen']);
const PROTOCOLS: ReadonlySet<string> = new Set(['tcp', 'udp']);

export function parseNetworkKey(key: string): ParsedNetworkKey | null {
  if (!key.startsWith('n|')) return null;
  const parts = key.split('|');
  if (parts.length < 5) return null;
  const [, direction, protocol, port] = parts as [string, string, string, string];
  if (!DIRECTIONS.has(direction) || !PROTOCOLS.has(protocol)) return null;
  const portNum = port === '*' ? null : Number(port);
  if (portNum !== null && !(Number.isInteger(portNum) && portNum >= 0 && portNum <= 65535)) return null;
  return { direction: direction as NetworkDirection, protocol: protocol as L4Protocol, port: portNum, peer: parts.slice(4).join('|') };
}

/** One line, plain text, for summaries (attacker-controlled parts included: escape on display). */
export function describeItem(item: Item): string {
  if (item.kind === 'process') return item.argsPattern ? `${item.exe} ${item.argsPattern}` : item.exe;
  const port = item.port ?? '*';
  const peer = describePeer(item.peer);
  if (item.direction === 'listen') return `listen ${item.protocol}/${port}`;
  if (item.direction === 'ingress') return `ingress ${item.protocol}/${port} from ${peer}`;
  return `egress ${item.protocol}/${port} to ${peer}${item.peerName && item.peer.class !== 'dns-name' ? ` (${item.peerName})` : ''}`;
}

export function describePeer(peer: Peer): string {
  switch (peer.class) {
    case 'service':
      return peer.name ? `service ${peer.name} (${peer.ip})` : `service ${peer.ip}`;
    case 'external':
      return `external ${peer.ip}`;
    case 'external-prefix':
      return `external ${peer.cidr}`;
    case 'address-set':
      return peer.ip ? `${peer.name} (${peer.ip})` : `${peer.name}`;
    case 'dns-name':
      return peer.ip ? `${peer.name} (${peer.ip})` : `${peer.name}`;
    case 'workload':
      return `workload ${peer.name}`;
    case 'pod-cidr':
      return 'a pod';
    case 'node-cidr':
      return 'a node';
    case 'loopback':
      return 'loopback';
    case 'none':
      return 'none';
  }
}
