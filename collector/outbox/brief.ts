/** Deviation (engine model) → DeviationBrief (what alerts show). */
import type { Deviation } from '../../common/deviations.js';
import type { Observation } from '../../common/model.js';
import type { DeviationBrief } from '../sinks/types.js';
import { deviationUrl } from '../links.js';
import { commandLine } from '../deviations/sessions.js';

const MAX_LINEAGE = 8;
const MAX_LISTED = 50;
/**
 * Commands an alert lists of a session (each with its time, arguments and lineage); the rest are
 * counted (`commandsMore`): a receiver's message limits (Slack, Alertmanager annotations) are met and
 * the console shows them all.
 */
export const MAX_ALERT_COMMANDS = 50;

function lineageOf(samples: readonly Observation[]): string[] {
  const s = samples[0];
  if (!s) return [];
  const chain = [commandLine(s.process), ...s.process.ancestors.map(commandLine)];
  return chain.slice(0, MAX_LINEAGE);
}

function peerOf(d: Deviation): string | null {
  const s = d.samples.find((o) => o.kind === 'network');
  if (s && s.kind === 'network') {
    if (s.peerIp === null) return s.localPort !== null ? `listen ${s.protocol}/${s.localPort}` : null;
    const addr = `${s.peerIp.includes(':') ? `[${s.peerIp}]` : s.peerIp}:${s.peerPort ?? '?'}`;
    return s.peerName ? `${s.peerName} (${addr})` : addr;
  }
  const peer = d.item.peer;
  return d.kind === 'network' && typeof peer === 'string' ? peer : null;
}

export function toBrief(d: Deviation, base: string): DeviationBrief {
  const brief: DeviationBrief = {
    id: d.id,
    kind: d.kind,
    severity: d.severity,
    severityReason: d.severityReason,
    status: d.status,
    itemKey: d.itemKey,
    summary: d.summary,
    item: d.item,
    lineage: lineageOf(d.samples),
    peer: peerOf(d),
    firstSeenMs: d.firstSeenMs,
    lastSeenMs: d.lastSeenMs,
    count: d.count,
    pods: d.pods.slice(0, MAX_LISTED),
    nodes: d.nodes.slice(0, MAX_LISTED),
    image: d.image,
    url: deviationUrl(base, d.id),
  };
  if (d.commands) {
    brief.commands = d.commands.slice(0, MAX_ALERT_COMMANDS);
    brief.commandsMore = d.commands.length - brief.commands.length + (d.commandsOmitted ?? 0);
  }
  if (d.release) brief.release = d.release;
  return brief;
}
