/**
 * What an agent says about itself (its hello's sources and version, its counters) is stored per
 * agent instance and read by the health monitor on every check, for every agent: bounded here,
 * so that no agent can make the collector hold more than a few KiB for it. An agent runs a handful
 * of sources; anything beyond the bounds is cut and counted (`cut` → a metric), never an error.
 */
import { Counter, type Registry } from 'prom-client';
import { REJECT_REASONS } from '../../common/model.js';
import type { AgentMessage } from '../../common/wire.js';
import { toCount } from '../health/samples.js';

/** Sources one agent may report (the agent has four source kinds; several of one kind are rare). */
export const MAX_SOURCES_PER_AGENT = 16;
/** Characters of a source name or agent version kept. */
export const MAX_LABEL_CHARS = 64;

const KNOWN_REASONS: ReadonlySet<string> = new Set(REJECT_REASONS);
const COUNTS = ['seen', 'observed', 'matchedBaseline', 'dropped', 'malformed', 'ignored', 'sensorLost', 'sensorEvents', 'sensorThrottled', 'sensorGaps', 'sensorGapMs'] as const;

interface Cut {
  /** Sources beyond MAX_SOURCES_PER_AGENT left out. */
  sources: number;
  /** Rejection reasons outside the known set, summed into `other`. */
  reasons: number;
  /** Names or versions shortened to MAX_LABEL_CHARS. */
  labels: number;
}

function label(text: unknown, cut: Cut): string {
  const s = typeof text === 'string' ? text : '';
  if (s.length <= MAX_LABEL_CHARS) return s;
  cut.labels++;
  return s.slice(0, MAX_LABEL_CHARS);
}

/** The hello's self-description, bounded. */
function boundedHello(hello: NonNullable<AgentMessage['hello']>, cut: Cut): { version: string; sources: string[] } {
  const sources = hello.sources ?? [];
  cut.sources += Math.max(0, sources.length - MAX_SOURCES_PER_AGENT);
  return { version: label(hello.agentVersion, cut), sources: sources.slice(0, MAX_SOURCES_PER_AGENT).map((s) => label(s, cut)) };
}

/** The counters as stored: known fields only, as plain numbers, bounded in sources and reasons. */
function boundedCounters(counters: NonNullable<AgentMessage['counters']>, cut: Cut): Record<string, unknown> {
  const all = counters.sources ?? [];
  cut.sources += Math.max(0, all.length - MAX_SOURCES_PER_AGENT);
  const sources = all.slice(0, MAX_SOURCES_PER_AGENT).map((c) => {
    const out: Record<string, unknown> = { source: label(c.source, cut), connected: c.connected === true, lastEventMs: toCount(c.lastEventMs) };
    for (const k of COUNTS) out[k] = toCount(c[k]);
    // Absent for older agents: the health monitor then judges them by their malformed ratio.
    if (c.rejected) {
      const rejected: Record<string, number> = {};
      for (const [reason, count] of Object.entries(c.rejected)) {
        const key = KNOWN_REASONS.has(reason) ? reason : 'other';
        if (key === 'other') cut.reasons++;
        rejected[key] = (rejected[key] ?? 0) + toCount(count);
      }
      out.rejected = rejected;
    }
    return out;
  });
  return { sources, shipDropped: toCount(counters.shipDropped) };
}

/** What agents say about themselves, bounded, with what was cut counted (a metric). */
export class AgentSelfReports {
  private readonly cuts: Counter<'what'>;

  constructor(registry: Registry) {
    this.cuts = new Counter({
      name: 'driftwatch_collector_agent_reports_cut_total',
      help: 'What agents reported about themselves beyond the per-agent bounds (sources, unknown rejection reasons, over-long names), cut before it was stored.',
      labelNames: ['what'],
      registers: [registry],
    });
  }

  hello(hello: NonNullable<AgentMessage['hello']>): { version: string; sources: string[] } {
    return this.counted((cut) => boundedHello(hello, cut));
  }

  counters(counters: NonNullable<AgentMessage['counters']>): Record<string, unknown> {
    return this.counted((cut) => boundedCounters(counters, cut));
  }

  private counted<T>(bound: (cut: Cut) => T): T {
    const cut: Cut = { sources: 0, reasons: 0, labels: 0 };
    const out = bound(cut);
    for (const what of ['sources', 'reasons', 'labels'] as const) if (cut[what] > 0) this.cuts.inc({ what }, cut[what]);
    return out;
  }
}
