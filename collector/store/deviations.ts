import type { Deviation, DeviationKind, DeviationStatus, ReleaseNote, SessionCommand, Severity } from '../../common/deviations.js';
import type { Observation } from '../../common/model.js';
import type { DeviationRepository } from './contract.js';
import type { SqlExecutor } from './sql.js';
import { JOINED_WORKLOAD_COLUMNS, joinedWorkload, type JoinedWorkloadColumns } from './workloads.js';

export type { SessionCommand } from '../../common/deviations.js';

/** What the engine writes; everything but ids and wall-clock stamps. */
export interface DeviationWrite
  extends Pick<Deviation, 'baselineId' | 'itemKey' | 'kind' | 'severity' | 'severityReason' | 'summary' | 'firstSeenMs' | 'lastSeenMs' | 'count' | 'pods' | 'nodes' | 'image'> {
  workloadId: number;
  /** The item, structured; engine-private bookkeeping goes under `detail.engine`. */
  detail: Record<string, unknown>;
  /** On update, null keeps the stored samples (the common case once five are kept). */
  samples: Observation[] | null;
  commands: SessionCommand[] | null;
}

/** A deviation (`d`) joined with its workload (`w`), as every query of deviations reads it. */
export interface DeviationRow extends JoinedWorkloadColumns {
  id: number;
  baseline_id: number;
  workload_id: number;
  item_key: string;
  kind: string;
  severity: string;
  severity_reason: string;
  status: string;
  summary: string;
  detail: string;
  first_seen_ms: number;
  last_seen_ms: number;
  count: number;
  pods: string;
  nodes: string;
  image: string | null;
  samples: string;
  commands: string | null;
  status_by: string | null;
  status_at: string | null;
  status_comment: string | null;
  created_at: string;
  updated_at: string;
}

/** Every column of a DeviationRow but the three JSON documents (detail, commands, samples). */
const SCALAR_COLUMNS = `d.id, d.baseline_id, d.workload_id, d.item_key, d.kind, d.severity, d.severity_reason, d.status, d.summary,
  d.first_seen_ms, d.last_seen_ms, d.count, d.pods, d.nodes, d.image, d.status_by, d.status_at, d.status_comment,
  d.created_at, d.updated_at, ${JOINED_WORKLOAD_COLUMNS}`;
const FROM = 'FROM deviations d JOIN workloads w ON w.id = d.workload_id';
const SELECT = `SELECT ${SCALAR_COLUMNS}, d.detail, d.commands, d.samples ${FROM}`;
/** Without the samples (the largest column): what a new sighting needs to merge. */
const SELECT_SLIM = `SELECT ${SCALAR_COLUMNS}, d.detail, d.commands, '[]' AS samples ${FROM}`;
/**
 * A DeviationRow for lists (collector/store/queries.ts, `FROM deviations d JOIN workloads w`): a
 * list shows no item, samples or commands, so a page does not read those documents.
 */
/** Ids per statement of getMany. */
const IDS_PER_READ = 500;
export const DEVIATION_LIST_COLUMNS = `${SCALAR_COLUMNS}, '{}' AS detail, NULL AS commands, '[]' AS samples`;

export interface StoredDeviation {
  deviation: Deviation;
  workloadId: number;
  detail: Record<string, unknown>;
}

/** Deviations, unique per (baseline, item key). */
export class SqlDeviations implements DeviationRepository {
  constructor(private readonly db: SqlExecutor) {}

  async get(id: number): Promise<StoredDeviation | undefined> {
    const r = await this.db.get<DeviationRow>(`${SELECT} WHERE d.id = @id`, { id });
    return r ? toStored(r) : undefined;
  }

  async getMany(ids: readonly number[]): Promise<Map<number, StoredDeviation>> {
    const out = new Map<number, StoredDeviation>();
    if (ids.length === 0) return out;
    // One parameter per id (portable, unlike json_each), in chunks far below either engine's limit.
    for (let start = 0; start < ids.length; start += IDS_PER_READ) {
      const chunk = ids.slice(start, start + IDS_PER_READ);
      const params = Object.fromEntries(chunk.map((id, i) => [`id${i}`, id]));
      const rows = await this.db.all<DeviationRow>(`${SELECT} WHERE d.id IN (${chunk.map((_id, i) => `@id${i}`).join(', ')})`, params);
      for (const r of rows) out.set(r.id, toStored(r));
    }
    return out;
  }

  /** The deviation of (baseline, item), samples not loaded (`samples` is empty: see samplesOf). */
  async find(baselineId: number, itemKey: string): Promise<StoredDeviation | undefined> {
    const r = await this.db.get<DeviationRow>(`${SELECT_SLIM} WHERE d.baseline_id = @baselineId AND d.item_key = @itemKey`, { baselineId, itemKey });
    return r ? toStored(r) : undefined;
  }

  async samplesOf(id: number): Promise<Observation[]> {
    const r = await this.db.get<{ samples: string }>('SELECT samples FROM deviations WHERE id = @id', { id });
    return r ? (JSON.parse(r.samples) as Observation[]) : [];
  }

  /** Open or acknowledged deviations of a baseline first seen before `beforeMs`, of these kinds. */
  async firstSeenBefore(baselineId: number, beforeMs: number, kinds: readonly DeviationKind[]): Promise<StoredDeviation[]> {
    const list = kinds.map((k) => `'${k}'`).join(', ');
    return (await this.db
      .all<DeviationRow>(`${SELECT_SLIM} WHERE d.baseline_id = @baselineId AND d.first_seen_ms < @beforeMs AND d.kind IN (${list}) AND d.status IN ('open', 'acknowledged') ORDER BY d.id`, {
        baselineId,
        beforeMs,
      }))
      .map(toStored);
  }

  async insert(d: DeviationWrite): Promise<number> {
    const at = new Date().toISOString();
    if (d.samples === null) d = { ...d, samples: [] };
    const res = await this.db.get<{ id: number }>(
      `INSERT INTO deviations (baseline_id, workload_id, item_key, kind, severity, severity_reason, status, summary, detail, first_seen_ms,
         last_seen_ms, count, pods, nodes, image, samples, commands, created_at, updated_at)
       VALUES (@baselineId, @workloadId, @itemKey, @kind, @severity, @severityReason, 'open', @summary, @detail, @firstSeenMs,
         @lastSeenMs, @count, @pods, @nodes, @image, @samples, @commands, @at, @at) RETURNING id`,
      { ...serialise(d), at },
    );
    return res!.id;
  }

  /** Rewrites what a new sighting changes (the row's identity and status stay). */
  async updateSighting(id: number, d: DeviationWrite): Promise<void> {
    const { samples, ...params } = serialise(d);
    const set = `kind = @kind, severity = @severity, severity_reason = @severityReason, summary = @summary, detail = @detail, first_seen_ms = @firstSeenMs,
      last_seen_ms = @lastSeenMs, count = @count, pods = @pods, nodes = @nodes, image = @image, commands = @commands, updated_at = @at`;
    const at = new Date().toISOString();
    if (samples === null) (await this.db.run(`UPDATE deviations SET ${set} WHERE id = @id`, { ...params, id, at }));
    else (await this.db.run(`UPDATE deviations SET ${set}, samples = @samples WHERE id = @id`, { ...params, samples, id, at }));
  }

  async setStatus(id: number, status: DeviationStatus, actor: string, comment: string | null): Promise<void> {
    await this.db.run('UPDATE deviations SET status = @status, status_by = @actor, status_at = @at, status_comment = @comment, updated_at = @at WHERE id = @id', {
      id,
      status,
      actor,
      comment,
      at: new Date().toISOString(),
    });
  }
}

function serialise(d: DeviationWrite): Record<string, string | number | null> {
  return {
    baselineId: d.baselineId,
    workloadId: d.workloadId,
    itemKey: d.itemKey,
    kind: d.kind,
    severity: d.severity,
    severityReason: d.severityReason,
    summary: d.summary,
    detail: JSON.stringify(d.detail),
    firstSeenMs: d.firstSeenMs,
    lastSeenMs: d.lastSeenMs,
    count: d.count,
    pods: JSON.stringify(d.pods),
    nodes: JSON.stringify(d.nodes),
    image: d.image,
    samples: d.samples === null ? null : JSON.stringify(d.samples),
    commands: d.commands ? JSON.stringify(d.commands) : null,
  };
}

function toStored(r: DeviationRow): StoredDeviation {
  const detail = JSON.parse(r.detail) as Record<string, unknown>;
  return { deviation: toDeviation(r, detail), workloadId: r.workload_id, detail };
}

/** `detail`: the row's detail already parsed, when the caller needs it too (engine bookkeeping included). */
export function toDeviation(r: DeviationRow, detail = JSON.parse(r.detail) as Record<string, unknown>): Deviation {
  const { engine, release, ...item } = detail;
  const deviation: Deviation = {
    id: r.id,
    baselineId: r.baseline_id,
    workload: joinedWorkload(r),
    itemKey: r.item_key,
    kind: r.kind as DeviationKind,
    severity: r.severity as Severity,
    severityReason: r.severity_reason,
    status: r.status as DeviationStatus,
    summary: r.summary,
    item,
    firstSeenMs: r.first_seen_ms,
    lastSeenMs: r.last_seen_ms,
    count: r.count,
    pods: JSON.parse(r.pods) as string[],
    nodes: JSON.parse(r.nodes) as string[],
    image: r.image,
    samples: JSON.parse(r.samples) as Observation[],
    statusBy: r.status_by,
    statusAt: r.status_at,
    statusComment: r.status_comment,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
  if (r.commands !== null) {
    deviation.commands = JSON.parse(r.commands) as SessionCommand[];
    // Kept with the engine's bookkeeping (sessions.ts): no column of its own.
    const omitted = (engine as { commandsOmitted?: unknown } | undefined)?.commandsOmitted;
    if (typeof omitted === 'number' && omitted > 0) deviation.commandsOmitted = omitted;
  }
  if (release) deviation.release = release as ReleaseNote;
  return deviation;
}
