import type { AuditRepository } from './contract.js';
import type { SqlExecutor } from './sql.js';

/** One decision or change, attributed: who, when, what, on what, why, and the state either side. */
export interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  action: string;
  targetType: string;
  targetId: string;
  /** The namespace the target belongs to (null for cluster-wide targets such as tokens). */
  namespace: string | null;
  comment: string | null;
  before: unknown;
  after: unknown;
}

export interface AuditInput {
  actor: string;
  action: string;
  targetType: string;
  targetId: string | number;
  namespace: string | null;
  comment?: string | null;
  before?: unknown;
  after?: unknown;
}

export interface AuditFilter {
  /** One entry by its id (an undo names the entry it undoes). */
  id?: number;
  actor?: string;
  action?: string;
  targetType?: string;
  targetId?: string;
  /** Only these namespaces (a scoped reader); null = all entries. */
  namespaces?: readonly string[] | null;
  /** Keyset: entries with id below this one (newest first). */
  beforeId?: number;
  /** Entries at or after / before these times (ISO 8601, as stored). */
  fromAt?: string;
  toAt?: string;
  limit: number;
}

interface AuditRow {
  id: number;
  at: string;
  actor: string;
  action: string;
  target_type: string;
  target_id: string;
  namespace: string | null;
  comment: string | null;
  before: string | null;
  after: string | null;
}

function parseJson(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

export class SqlAudit implements AuditRepository {
  constructor(
    private readonly db: SqlExecutor,
    private readonly now: () => number = Date.now,
  ) {}

  /** Call inside the transaction of the change it records, so that neither exists without the other. */
  async append(e: AuditInput): Promise<number> {
    const r = await this.db.get<{ id: number }>(
      'INSERT INTO audit_log (at, actor, action, target_type, target_id, namespace, comment, before, after) VALUES (@at, @actor, @action, @tt, @tid, @ns, @comment, @before, @after) RETURNING id',
      {
        at: new Date(this.now()).toISOString(),
        actor: e.actor,
        action: e.action,
        tt: e.targetType,
        tid: String(e.targetId),
        ns: e.namespace,
        comment: e.comment ?? null,
        before: e.before === undefined ? null : JSON.stringify(e.before),
        after: e.after === undefined ? null : JSON.stringify(e.after),
      },
    );
    return r!.id;
  }

  async list(f: AuditFilter): Promise<AuditEntry[]> {
    const where: string[] = [];
    const params: Record<string, string | number> = { limit: f.limit };
    if (f.id !== undefined) (where.push('id = @id'), (params.id = f.id));
    if (f.actor !== undefined) (where.push('actor = @actor'), (params.actor = f.actor));
    if (f.action !== undefined) (where.push('action = @action'), (params.action = f.action));
    if (f.targetType !== undefined) (where.push('target_type = @tt'), (params.tt = f.targetType));
    if (f.targetId !== undefined) (where.push('target_id = @tid'), (params.tid = f.targetId));
    if (f.beforeId !== undefined) (where.push('id < @beforeId'), (params.beforeId = f.beforeId));
    if (f.fromAt !== undefined) (where.push('at >= @fromAt'), (params.fromAt = f.fromAt));
    if (f.toAt !== undefined) (where.push('at < @toAt'), (params.toAt = f.toAt));
    if (f.namespaces) {
      const names = f.namespaces.map((ns, i) => {
        params[`ns${i}`] = ns;
        return `@ns${i}`;
      });
      where.push(names.length ? `namespace IN (${names.join(', ')})` : '1 = 0');
    }
    const sql = `SELECT * FROM audit_log${where.length ? ' WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT @limit`;
    return (await this.db.all<AuditRow>(sql, params)).map((r) => ({
      id: r.id,
      at: r.at,
      actor: r.actor,
      action: r.action,
      targetType: r.target_type,
      targetId: r.target_id,
      namespace: r.namespace,
      comment: r.comment,
      before: parseJson(r.before),
      after: parseJson(r.after),
    }));
  }
}
