import type { BaselineCompleteness, BaselinePhase, BaselineSummary } from '../../common/deviations.js';
import type { BaselineRepository } from './contract.js';
import type { SqlExecutor, SqlParams } from './sql.js';
import { JOINED_WORKLOAD_COLUMNS, joinedWorkload, type JoinedWorkloadColumns } from './workloads.js';

export interface BaselineRecord {
  id: number;
  workloadId: number;
  generation: number;
  imageDigest: string | null;
  imageDigests: string[];
  phase: BaselinePhase;
  completeness: BaselineCompleteness;
  version: number;
  learningStartMs: number | null;
  learningUntilMs: number | null;
  lastNewItemMs: number | null;
  decidedBy: string | null;
  decidedAt: string | null;
  decisionComment: string | null;
  /** The image's name (tag) when the generation started: shown with the digest. */
  imageName: string | null;
  /** carry-forward: the generation this one started as a copy of. */
  carriedFromId: number | null;
  /** carry-forward: event time of the new image's first observation. */
  releasedAtMs: number | null;
}

export type ItemOrigin = 'learned' | 'manual';
export type ItemPhase = 'startup' | 'steady';

export interface BaselineItemRecord {
  id: number;
  baselineId: number;
  kind: 'process' | 'network';
  key: string;
  origin: ItemOrigin;
  phase: ItemPhase;
  detail: Record<string, unknown>;
  count: number;
  firstSeenMs: number;
  lastSeenMs: number;
  addedInVersion: number;
}

interface BaselineRow {
  id: number;
  workload_id: number;
  generation: number;
  image_digest: string | null;
  image_digests: string;
  phase: string;
  completeness: string;
  version: number;
  learning_start_ms: number | null;
  learning_until_ms: number | null;
  last_new_item_ms: number | null;
  decided_by: string | null;
  decided_at: string | null;
  decision_comment: string | null;
  image_name: string | null;
  carried_from_id: number | null;
  released_at_ms: number | null;
}

export interface ItemRow {
  id: number;
  baseline_id: number;
  kind: string;
  item_key: string;
  origin: string;
  phase: string;
  detail: string;
  count: number;
  first_seen_ms: number;
  last_seen_ms: number;
  added_in_version: number;
}

const COLUMNS = `id, workload_id, generation, image_digest, image_digests, phase, completeness, version, learning_start_ms,
  learning_until_ms, last_new_item_ms, decided_by, decided_at, decision_comment, image_name, carried_from_id, released_at_ms`;
export const ITEM_COLUMNS = 'id, baseline_id, kind, item_key, origin, phase, detail, count, first_seen_ms, last_seen_ms, added_in_version';

/** A new generation; the release columns only for generations started by an image. */
export type BaselineInsert = Omit<BaselineRecord, 'id' | 'decidedBy' | 'decidedAt' | 'decisionComment' | 'imageName' | 'carriedFromId' | 'releasedAtMs'> &
  Partial<Pick<BaselineRecord, 'imageName' | 'carriedFromId' | 'releasedAtMs'>>;

export type BaselineUpdate = Partial<Omit<BaselineRecord, 'id' | 'workloadId' | 'generation' | 'imageName' | 'carriedFromId' | 'releasedAtMs'>>;

const UPDATE_COLUMNS: Record<keyof BaselineUpdate, string> = {
  imageDigest: 'image_digest',
  imageDigests: 'image_digests',
  phase: 'phase',
  completeness: 'completeness',
  version: 'version',
  learningStartMs: 'learning_start_ms',
  learningUntilMs: 'learning_until_ms',
  lastNewItemMs: 'last_new_item_ms',
  decidedBy: 'decided_by',
  decidedAt: 'decided_at',
  decisionComment: 'decision_comment',
};

/** Baselines (one row per workload container generation) and their items. */
export class SqlBaselines implements BaselineRepository {
  constructor(private readonly db: SqlExecutor) {}

  async get(id: number): Promise<BaselineRecord | undefined> {
    const r = await this.db.get<BaselineRow>(`SELECT ${COLUMNS} FROM baselines WHERE id = @id`, { id });
    return r ? toRecord(r) : undefined;
  }

  /** The workload's current baseline: its newest generation. */
  async current(workloadId: number): Promise<BaselineRecord | undefined> {
    const r = await this.db.get<BaselineRow>(`SELECT ${COLUMNS} FROM baselines WHERE workload_id = @workloadId ORDER BY generation DESC LIMIT 1`, { workloadId });
    return r ? toRecord(r) : undefined;
  }

  async generations(workloadId: number): Promise<BaselineRecord[]> {
    return (await this.db.all<BaselineRow>(`SELECT ${COLUMNS} FROM baselines WHERE workload_id = @workloadId ORDER BY generation DESC`, { workloadId })).map(toRecord);
  }

  async insert(b: BaselineInsert): Promise<BaselineRecord> {
    const at = new Date().toISOString();
    const res = await this.db.get<{ id: number }>(
      `INSERT INTO baselines (workload_id, generation, image_digest, image_digests, phase, completeness, version, learning_start_ms,
         learning_until_ms, last_new_item_ms, image_name, carried_from_id, released_at_ms, created_at, updated_at)
       VALUES (@workloadId, @generation, @imageDigest, @imageDigests, @phase, @completeness, @version, @learningStartMs,
         @learningUntilMs, @lastNewItemMs, @imageName, @carriedFromId, @releasedAtMs, @at, @at) RETURNING id`,
      {
        workloadId: b.workloadId,
        generation: b.generation,
        imageDigest: b.imageDigest,
        imageDigests: JSON.stringify(b.imageDigests),
        phase: b.phase,
        completeness: b.completeness,
        version: b.version,
        learningStartMs: b.learningStartMs,
        learningUntilMs: b.learningUntilMs,
        lastNewItemMs: b.lastNewItemMs,
        imageName: b.imageName ?? null,
        carriedFromId: b.carriedFromId ?? null,
        releasedAtMs: b.releasedAtMs ?? null,
        at,
      },
    );
    return (await this.get(res!.id))!;
  }

  async update(id: number, changes: BaselineUpdate): Promise<void> {
    const sets: string[] = [];
    const params: Record<string, string | number | null> = { id, at: new Date().toISOString() };
    for (const [k, v] of Object.entries(changes) as [keyof BaselineUpdate, unknown][]) {
      if (v === undefined) continue;
      sets.push(`${UPDATE_COLUMNS[k]} = @${k}`);
      params[k] = Array.isArray(v) ? JSON.stringify(v) : (v as string | number | null);
    }
    if (!sets.length) return;
    await this.db.run(`UPDATE baselines SET ${sets.join(', ')}, updated_at = @at WHERE id = @id`, params as SqlParams);
  }

  /** Learning baselines whose window ended at or before `nowMs` (event time). */
  async dueForActivation(nowMs: number): Promise<BaselineRecord[]> {
    return (await this.db
      .all<BaselineRow>(`SELECT ${COLUMNS} FROM baselines WHERE phase = 'learning' AND learning_until_ms IS NOT NULL AND learning_until_ms <= @nowMs`, { nowMs }))
      .map(toRecord);
  }

  async items(baselineId: number): Promise<BaselineItemRecord[]> {
    return (await this.db
      .all<ItemRow>(`SELECT ${ITEM_COLUMNS} FROM baseline_items WHERE baseline_id = @baselineId AND removed_in_version IS NULL ORDER BY id`, { baselineId }))
      .map(toItem);
  }

  async insertItem(i: Omit<BaselineItemRecord, 'id'>): Promise<BaselineItemRecord> {
    const res = await this.db.get<{ id: number }>(
      // An item taken out (an undone addition) and added again takes its row back from this
      // version on: one row per baseline and item key.
      `INSERT INTO baseline_items (baseline_id, kind, item_key, origin, phase, detail, count, first_seen_ms, last_seen_ms, added_in_version)
       VALUES (@baselineId, @kind, @key, @origin, @phase, @detail, @count, @firstSeenMs, @lastSeenMs, @addedInVersion)
       ON CONFLICT (baseline_id, item_key) DO UPDATE SET kind = excluded.kind, origin = excluded.origin, phase = excluded.phase, detail = excluded.detail,
         count = excluded.count, first_seen_ms = excluded.first_seen_ms, last_seen_ms = excluded.last_seen_ms,
         added_in_version = excluded.added_in_version, removed_in_version = NULL
       WHERE baseline_items.removed_in_version IS NOT NULL
       RETURNING id`,
      {
        baselineId: i.baselineId,
        kind: i.kind,
        key: i.key,
        origin: i.origin,
        phase: i.phase,
        detail: JSON.stringify(i.detail),
        count: i.count,
        firstSeenMs: i.firstSeenMs,
        lastSeenMs: i.lastSeenMs,
        addedInVersion: i.addedInVersion,
      },
    );
    if (!res) throw new Error(`baseline ${i.baselineId} already holds ${i.key}`);
    return { ...i, id: res.id };
  }

  async updateItem(i: BaselineItemRecord): Promise<void> {
    await this.db.run(
      `UPDATE baseline_items SET phase = @phase, detail = @detail, count = @count, first_seen_ms = @firstSeenMs, last_seen_ms = @lastSeenMs
       WHERE id = @id`,
      { id: i.id, phase: i.phase, detail: JSON.stringify(i.detail), count: i.count, firstSeenMs: i.firstSeenMs, lastSeenMs: i.lastSeenMs },
    );
  }

  /** Takes an item out of the baseline from `version` on (earlier versions keep showing it). */
  async removeItem(id: number, version: number): Promise<void> {
    await this.db.run('UPDATE baseline_items SET removed_in_version = @version WHERE id = @id AND removed_in_version IS NULL', { id, version });
  }

  /** Removes an item that turned out not to belong to the learning window (never a person's addition). */
  async deleteItem(id: number): Promise<void> {
    await this.db.run("DELETE FROM baseline_items WHERE id = @id AND origin = 'learned'", { id });
  }

  async summary(id: number): Promise<BaselineSummary | undefined> {
    const r = await this.db.get<BaselineSummaryRow>(
      `SELECT b.id, b.workload_id, b.generation, b.image_digest, b.image_digests, b.phase, b.completeness, b.version, b.learning_start_ms,
         b.learning_until_ms, b.last_new_item_ms, b.decided_by, b.decided_at, b.decision_comment, b.image_name, b.carried_from_id, ${JOINED_WORKLOAD_COLUMNS},
         (SELECT COUNT(*) FROM baseline_items i WHERE i.baseline_id = b.id AND i.removed_in_version IS NULL) AS item_count,
         (SELECT COUNT(*) FROM deviations d WHERE d.baseline_id = b.id AND d.status = 'open') AS open_deviations
       FROM baselines b JOIN workloads w ON w.id = b.workload_id WHERE b.id = @id`,
      { id },
    );
    return r ? toSummary(r) : undefined;
  }

  /** Ids of current (newest generation) baselines, optionally filtered. */
  async currentIds(filter: { namespace?: string; phase?: string } = {}): Promise<number[]> {
    const where: string[] = ['b.generation = (SELECT MAX(b2.generation) FROM baselines b2 WHERE b2.workload_id = b.workload_id)'];
    const params: Record<string, string> = {};
    if (filter.namespace !== undefined) (where.push('w.namespace = @namespace'), (params.namespace = filter.namespace));
    if (filter.phase !== undefined) (where.push('b.phase = @phase'), (params.phase = filter.phase));
    return (await this.db
      .all<{ id: number }>(`SELECT b.id FROM baselines b JOIN workloads w ON w.id = b.workload_id WHERE ${where.join(' AND ')} ORDER BY w.namespace, w.name, w.container, b.id`, params))
      .map((r) => r.id);
  }
}

/** A baseline (`b`) joined with its workload (`w`) and counted: what a summary is made of. */
export interface BaselineSummaryRow extends JoinedWorkloadColumns {
  id: number;
  generation: number;
  version: number;
  phase: string;
  completeness: string;
  image_digest: string | null;
  learning_start_ms: number | null;
  learning_until_ms: number | null;
  decided_by: string | null;
  decided_at: string | null;
  decision_comment: string | null;
  image_name: string | null;
  carried_from_id: number | null;
  item_count: number;
  open_deviations: number;
}

export function toSummary(r: BaselineSummaryRow): BaselineSummary {
  return {
    id: r.id,
    workload: joinedWorkload(r),
    generation: r.generation,
    version: r.version,
    phase: r.phase as BaselinePhase,
    completeness: r.completeness as BaselineCompleteness,
    imageDigest: r.image_digest,
    imageName: r.image_name,
    carriedFrom: r.carried_from_id,
    learningStartMs: r.learning_start_ms,
    learningUntilMs: r.learning_until_ms,
    itemCount: r.item_count,
    openDeviations: r.open_deviations,
    decidedBy: r.decided_by,
    decidedAt: r.decided_at,
    decisionComment: r.decision_comment,
  };
}

function toRecord(r: BaselineRow): BaselineRecord {
  return {
    id: r.id,
    workloadId: r.workload_id,
    generation: r.generation,
    imageDigest: r.image_digest,
    imageDigests: JSON.parse(r.image_digests) as string[],
    phase: r.phase as BaselinePhase,
    completeness: r.completeness as BaselineCompleteness,
    version: r.version,
    learningStartMs: r.learning_start_ms,
    learningUntilMs: r.learning_until_ms,
    lastNewItemMs: r.last_new_item_ms,
    decidedBy: r.decided_by,
    decidedAt: r.decided_at,
    decisionComment: r.decision_comment,
    imageName: r.image_name,
    carriedFromId: r.carried_from_id,
    releasedAtMs: r.released_at_ms,
  };
}

export function toItem(r: ItemRow): BaselineItemRecord {
  return {
    id: r.id,
    baselineId: r.baseline_id,
    kind: r.kind as 'process' | 'network',
    key: r.item_key,
    origin: r.origin as ItemOrigin,
    phase: r.phase as ItemPhase,
    detail: JSON.parse(r.detail) as Record<string, unknown>,
    count: r.count,
    firstSeenMs: r.first_seen_ms,
    lastSeenMs: r.last_seen_ms,
    addedInVersion: r.added_in_version,
  };
}
