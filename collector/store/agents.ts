import type { AgentStatus } from '../../common/deviations.js';
import type { AgentRepository } from './contract.js';
import type { Page } from './queries.js';
import type { SqlExecutor } from './sql.js';

interface AgentRow {
  instance_id: string;
  node: string;
  cluster: string;
  version: string;
  sources: string;
  connected: number;
  first_seen_at: string;
  last_seen_at: string;
  last_seq: number;
  counters: string;
}

function toStatus(r: AgentRow): AgentStatus {
  return {
    instanceId: r.instance_id,
    node: r.node,
    cluster: r.cluster,
    version: r.version,
    sources: JSON.parse(r.sources) as string[],
    connected: r.connected === 1,
    firstSeenAt: r.first_seen_at,
    lastSeenAt: r.last_seen_at,
    counters: JSON.parse(r.counters) as Record<string, unknown>,
  };
}

/** Where a page of the agents list ends: the list is in (node, instance id) order. */
export interface AgentCursor {
  node: string;
  instanceId: string;
}

/** The agents table: one row per agent process instance, with the last stored batch sequence. */
export class SqlAgents implements AgentRepository {
  constructor(private readonly db: SqlExecutor) {}

  /** Registers (or re-registers after a reconnect) an agent instance; returns its last stored seq. */
  async hello(a: { instanceId: string; node: string; cluster: string; version: string; sources: string[] }, at: string): Promise<number> {
    await this.db.run(
      `INSERT INTO agents (instance_id, node, cluster, version, sources, connected, first_seen_at, last_seen_at)
       VALUES (@id, @node, @cluster, @version, @sources, 1, @at, @at)
       ON CONFLICT (instance_id) DO UPDATE SET connected = 1, last_seen_at = @at, sources = @sources, version = @version`,
      { id: a.instanceId, node: a.node, cluster: a.cluster, version: a.version, sources: JSON.stringify(a.sources), at },
    );
    return this.lastSeq(a.instanceId);
  }

  async lastSeq(instanceId: string): Promise<number> {
    return (await this.db.get<{ last_seq: number }>('SELECT last_seq FROM agents WHERE instance_id = @id', { id: instanceId }))?.last_seq ?? 0;
  }

  /** Must run in the same transaction as the batch's writes: that is what makes a batch count once. */
  async commitSeq(instanceId: string, seq: number, at: string): Promise<void> {
    await this.db.run('UPDATE agents SET last_seq = @seq, last_seen_at = @at WHERE instance_id = @id AND last_seq < @seq', { id: instanceId, seq, at });
  }

  async setCounters(instanceId: string, counters: Record<string, unknown>, at: string): Promise<void> {
    await this.db.run('UPDATE agents SET counters = @c, last_seen_at = @at WHERE instance_id = @id', { id: instanceId, c: JSON.stringify(counters), at });
  }

  async disconnected(instanceId: string, at: string): Promise<void> {
    await this.db.run('UPDATE agents SET connected = 0, last_seen_at = @at WHERE instance_id = @id', { id: instanceId, at });
  }

  /** At start-up no agent is connected to this process, whatever the last run recorded. */
  async markAllDisconnected(): Promise<void> {
    await this.db.run('UPDATE agents SET connected = 0 WHERE connected = 1');
  }

  /** Forgets agent instances disconnected for longer than `retentionMs` (one row per agent start). */
  async prune(retentionMs: number, nowMs: number): Promise<number> {
    return (await this.db.run('DELETE FROM agents WHERE connected = 0 AND last_seen_at < @cutoff', { cutoff: new Date(nowMs - retentionMs).toISOString() })).changes;
  }

  async get(instanceId: string): Promise<AgentStatus | undefined> {
    const r = await this.db.get<AgentRow>('SELECT * FROM agents WHERE instance_id = @id', { id: instanceId });
    return r ? toStatus(r) : undefined;
  }

  /** Every agent instance by node, within a node newest first (what the health monitor walks). */
  async list(): Promise<AgentStatus[]> {
    return (await this.db.all<AgentRow>('SELECT * FROM agents ORDER BY node, last_seen_at DESC')).map(toStatus);
  }

  /** A page of agent instances in (node, instance id) order: stable while agents come and go. */
  async page(after: AgentCursor | undefined, limit: number): Promise<Page<AgentStatus, AgentCursor>> {
    const rows = await this.db.all<AgentRow>(
      `SELECT * FROM agents${after ? ' WHERE (node, instance_id) > (@node, @id)' : ''} ORDER BY node, instance_id LIMIT @limit`,
      { ...(after && { node: after.node, id: after.instanceId }), limit: limit + 1 },
    );
    const items = rows.slice(0, limit).map(toStatus);
    const last = items.at(-1);
    return { items, next: rows.length > limit && last ? { node: last.node, instanceId: last.instanceId } : null };
  }

  /** Agent instances: connected and seen since `freshSince`, connected but not, and disconnected. */
  async countByHealth(freshSince: string): Promise<{ ok: number; stale: number; disconnected: number }> {
    const r = await this.db.get<{ ok: number | null; stale: number | null; disconnected: number | null }>(
      `SELECT SUM(CASE WHEN connected = 1 AND last_seen_at >= @since THEN 1 ELSE 0 END) AS ok,
              SUM(CASE WHEN connected = 1 AND last_seen_at < @since THEN 1 ELSE 0 END) AS stale,
              SUM(CASE WHEN connected = 0 THEN 1 ELSE 0 END) AS disconnected
         FROM agents`,
      { since: freshSince },
    );
    return { ok: r?.ok ?? 0, stale: r?.stale ?? 0, disconnected: r?.disconnected ?? 0 };
  }
}
