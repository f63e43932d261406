import { parseNetworkKey, type Item, type Peer } from '../../common/items/keys.js';
import type { Observation, WorkloadId } from '../../common/model.js';
import { describeNetworkRule, matchRules, type EffectiveDeclared, type NetworkRule, type ProcessRule } from '../baselines/declared.js';
import { unescapeKeyField } from '../exports/keys.js';
import type { BaselineItemView } from '../store/queries.js';
import type { BaselineDiff } from './diff.js';

function peerOf(peerKey: string): { peer: Peer; ip: string | null } {
  if (peerKey.startsWith('ip|')) return { peer: { class: 'external', ip: peerKey.slice(3) }, ip: peerKey.slice(3) };
  if (peerKey.startsWith('net|')) {
    const cidr = peerKey.slice(4);
    return { peer: { class: 'external-prefix', cidr }, ip: cidr.split('/')[0] ?? null };
  }
  if (peerKey.startsWith('wl|')) return { peer: { class: 'workload', name: unescapeKeyField(peerKey.slice(3)) }, ip: null };
  if (peerKey === 'class|pod-cidr') return { peer: { class: 'pod-cidr' }, ip: null };
  if (peerKey === 'class|node-cidr') return { peer: { class: 'node-cidr' }, ip: null };
  if (peerKey === 'lo') return { peer: { class: 'loopback' }, ip: '127.0.0.1' };
  return { peer: { class: 'none' }, ip: null };
}

/**
 * A stored item as the observation that would produce it (first address of a prefix, first
 * argument pattern): what declared rules are matched against when there is no real event at hand.
 */
export function itemObservation(i: BaselineItemView, workload: WorkloadId): { obs: Observation; item: Item } | null {
  const common = {
    source: 'tetragon-grpc' as const,
    time: i.firstSeenMs,
    workload,
    identitySource: 'source' as const,
    node: '',
    pod: null,
    containerId: null,
    image: { name: null, digest: null },
    containerStart: null,
    preexisting: false,
  };
  const args = Array.isArray(i.detail.args) ? String(i.detail.args[0] ?? '') : typeof i.detail.args === 'string' ? i.detail.args : '';
  const proc = (exe: string) => ({ exe, args, pid: null, uid: null, user: null, execId: null, parentExe: null, ancestors: [], lineage: 'partial' as const, inInitTree: null, sessionId: null });
  if (i.key.startsWith('p|')) {
    const exe = unescapeKeyField(i.key.slice(2));
    return { obs: { ...common, kind: 'process', process: proc(exe) }, item: { kind: 'process', key: i.key, exe, argsPattern: args } };
  }
  const n = parseNetworkKey(i.key);
  if (!n) return null;
  const { peer, ip } = peerOf(n.peer);
  const dnsName = typeof i.detail.dnsName === 'string' ? i.detail.dnsName : null;
  const egress = n.direction === 'egress';
  const obs: Observation = {
    ...common,
    kind: 'network',
    direction: n.direction,
    protocol: n.protocol,
    localIp: null,
    localPort: egress ? null : n.port,
    peerIp: ip,
    peerPort: egress ? n.port : null,
    peerName: dnsName,
    process: proc(typeof i.detail.exe === 'string' ? i.detail.exe : ''),
  };
  return { obs, item: { kind: 'network', key: i.key, direction: n.direction, protocol: n.protocol, port: n.port, peer, peerName: dnsName } };
}

/** A process rule as text (network rules: the engine's describeNetworkRule). */
function processRuleText(p: ProcessRule): string {
  return p.argsText ? `process ${p.path} args ${p.argsText.join(' | ')}` : `process ${p.path}`;
}

/**
 * Learned versus declared: `added` = learned items no declared rule allows (what a `replace`
 * baseline would raise), `removed` = declared rules no learned item uses (allowed, never seen).
 * Declared rules appear as pseudo-items with origin `declared` and a readable key.
 */
export function diffLearnedDeclared(learned: readonly BaselineItemView[], declared: EffectiveDeclared, workload: WorkloadId): BaselineDiff {
  const used = new Set<ProcessRule | NetworkRule>();
  const added: BaselineItemView[] = [];
  for (const i of learned) {
    const synthetic = itemObservation(i, workload);
    if (!synthetic) continue;
    const rules = synthetic.obs.kind === 'process' ? declared.allow.processes : declared.allow.network;
    let matched = false;
    for (const r of rules) {
      const one = synthetic.obs.kind === 'process' ? { processes: [r as ProcessRule], network: [] } : { processes: [], network: [r as NetworkRule] };
      if (matchRules(one, synthetic.obs, synthetic.item) !== null) {
        used.add(r);
        matched = true;
      }
    }
    if (!matched) added.push(i);
  }
  const pseudo = (key: string, kind: string): BaselineItemView => ({ key, kind, origin: 'declared', phase: 'steady', detail: {}, count: 0, firstSeenMs: 0, lastSeenMs: 0, addedInVersion: 0, removedInVersion: null });
  const removed = [
    ...declared.allow.processes.filter((r) => !used.has(r)).map((r) => pseudo(processRuleText(r), 'process')),
    ...declared.allow.network.filter((r) => !used.has(r)).map((r) => pseudo(describeNetworkRule(r), 'network')),
  ];
  return { added, removed, unchanged: learned.length - added.length };
}
