// Baseline items as people read them. A key (`n|egress|tcp|443|net|203.0.113.0/24`) is exact but
// cryptic; the sentence says the same ("connects out to external range 203.0.113.0/24 on tcp/443"),
// and the key stays beside it for search and copy. Every value from the cluster goes in as text.
import { fmtTime, h, visible } from './dom.js';

function unescapeField(s) {
  return s.replace(/%7C/g, '|').replace(/%25/g, '%');
}

function peerText(peer, detail = {}) {
  if (peer === '-') return null;
  if (peer === 'lo') return 'loopback';
  const [cls, ...rest] = peer.split('|');
  const value = unescapeField(rest.join('|'));
  const dns = detail.dnsName ? ` (${detail.dnsName})` : '';
  switch (cls) {
    case 'ip':
      return detail.peerClass === 'service' ? `Service ${value}${detail.peerName ? ` ${detail.peerName}` : ''}` : `${detail.peerClass === 'external' ? 'external ' : ''}${value}${dns}`;
    case 'net':
      return `external range ${value}${Array.isArray(detail.generalisedFrom) ? ` (generalised from ${detail.generalisedFrom.length} addresses)` : ''}`;
    case 'dns':
      // Learned by the name the workload resolved; the address is the one first seen.
      return detail.ip ? `external ${detail.ip} (${value})` : `external host ${value}`;
    case 'set':
      return `address set ${value}`;
    case 'wl':
      return `workload ${value}`;
    case 'class':
      return value === 'pod-cidr' ? 'a pod address nobody could resolve' : value === 'node-cidr' ? 'a node address' : value;
    default:
      return peer;
  }
}

/** One sentence for an item key (and its stored detail, when the caller has it). */
export function describeItem(key, detail = {}) {
  const [kind, ...f] = key.split('|');
  if (kind === 'p') {
    const args = Array.isArray(detail.args) ? detail.args.filter((a) => a !== '') : [];
    return `runs ${unescapeField(f.join('|'))}${args.length ? ` with arguments like ${args.map((a) => `“${a}”`).join(', ')}` : ''}`;
  }
  if (kind === 'n' && f.length >= 4) {
    const [direction, protocol, port, ...peerParts] = f;
    const on = `${protocol}/${port === '' || port === '*' ? 'any port' : port}`;
    const peer = peerText(peerParts.join('|'), detail);
    if (direction === 'listen') return `listens on ${on}`;
    if (direction === 'ingress') return `accepts ${on}${peer ? ` from ${peer}` : ''}`;
    return `connects out to ${peer ?? 'anywhere'} on ${on}`;
  }
  if (kind === 's') return 'an interactive session (kubectl exec or similar)';
  if (kind === 'i') return `runs image ${f.join('|')}`;
  return key;
}

const ORIGINS = {
  learned: ['learned', 'learned from what the workload did during its learning window'],
  declared: ['declared', 'declared in a baseline YAML under baselines/ (reviewed in git)'],
  manual: ['added by a person', 'added from a deviation by an approver (see the audit log for who and why)'],
};

/**
 * The item's sentence, its key, and badges: start-up only (allowed only during a container's
 * start-up grace period), where it came from, and new in this version.
 */
export function itemView(i, { version } = {}) {
  const badges = [];
  if (i.phase === 'startup') badges.push(h('span', { class: 'badge item-startup', title: 'seen only while containers were starting: allowed only during the start-up grace period', text: 'start-up only' }));
  if (i.origin) {
    const [label, title] = ORIGINS[i.origin] ?? [i.origin, i.origin];
    badges.push(h('span', { class: 'badge item-origin', title, text: label }));
  }
  if (version !== undefined && i.addedInVersion !== undefined && i.addedInVersion === version && version > 1) badges.push(h('span', { class: 'badge item-new', title: `added in version ${version}`, text: `new in v${version}` }));
  return [h('span', { class: 'readable', text: visible(describeItem(i.key, i.detail)) }), ' ', badges, ' ', h('code', { class: 'key', text: visible(i.key) })];
}

/** One item in a list of items or of changes (`mark`: added, removed, same). */
export function itemRow(i, mark, version) {
  return h(
    'li',
    { class: `item ${mark}` },
    h('span', { class: 'mark', 'aria-hidden': 'true', text: mark === 'added' ? '+' : mark === 'removed' ? '−' : ' ' }),
    h('span', { class: 'sr-only', text: mark === 'added' ? 'added: ' : mark === 'removed' ? 'removed: ' : '' }),
    itemView(i, { version }),
    h('span', { class: 'muted', text: ` · seen ${i.count}× · first ${fmtTime(i.firstSeenMs)}` }),
  );
}
