import type { AgentStatus } from '../../common/deviations.js';
import type { AgentRepository } from './contract.js';
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

const LIST_ORDER = { recent: 'node, last_seen_at DESC', instance: 'node, instance_id' } as const;

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

  /**
   * Every agent instance by node; within a node newest first (`recent`: what the health monitor
   * walks) or by instance id (`instance`: an order that holds still while lists are read).
   */
  async list(within: 'recent' | 'instance' = 'recent'): Promise<AgentStatus[]> {
    return (await this.db.all<AgentRow>(`SELECT * FROM agents ORDER BY ${LIST_ORDER[within]}`)).map(toStatus);
  }
}
