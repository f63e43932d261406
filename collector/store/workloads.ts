import type { IMAGE_POLICIES } from '../../common/config/collector.js';
import type { WorkloadId, WorkloadKind } from '../../common/model.js';
import type { WorkloadRepository } from './contract.js';
import type { SqlExecutor } from './sql.js';

export type ImagePolicy = (typeof IMAGE_POLICIES)[number];

export interface WorkloadRecord {
  id: number;
  workload: WorkloadId;
  /** Per-workload image policy; null = the configured default. */
  imagePolicy: ImagePolicy | null;
}

interface Row {
  id: number;
  cluster: string;
  namespace: string;
  kind: string;
  name: string;
  container: string;
  image_policy: string | null;
}

/** A workload's columns joined into another table's query as `w` (see JOINED_WORKLOAD_COLUMNS). */
export interface JoinedWorkloadColumns {
  cluster: string;
  namespace: string;
  wkind: string;
  wname: string;
  container: string;
}

/** Aliased so that they cannot collide with the joined table's own `kind` and `name`. */
export const JOINED_WORKLOAD_COLUMNS = 'w.cluster, w.namespace, w.kind AS wkind, w.name AS wname, w.container';

export function joinedWorkload(r: JoinedWorkloadColumns): WorkloadId {
  return { cluster: r.cluster, namespace: r.namespace, kind: r.wkind as WorkloadKind, name: r.wname, container: r.container };
}

/** Workload containers (the scope of a baseline). Ids are cached: rows are never deleted. */
export class SqlWorkloads implements WorkloadRepository {
  private static readonly MAX_CACHED = 100_000;

  /** `ids` is shared by every instance over one database (a transaction's and the store's own). */
  constructor(
    private readonly db: SqlExecutor,
    private readonly ids = new Map<string, number>(),
  ) {}

  async idOf(w: WorkloadId): Promise<number> {
    const key = `${w.cluster}\u0000${w.namespace}\u0000${w.kind}\u0000${w.name}\u0000${w.container}`;
    const cached = this.ids.get(key);
    if (cached !== undefined) return cached;
    const params = { cluster: w.cluster, namespace: w.namespace, kind: w.kind, name: w.name, container: w.container };
    let id = await this.find(w);
    if (id === undefined) {
      await this.db.run(
        `INSERT INTO workloads (cluster, namespace, kind, name, container, created_at) VALUES (@cluster, @namespace, @kind, @name, @container, @at)
         ON CONFLICT (cluster, namespace, kind, name, container) DO NOTHING`,
        { ...params, at: new Date().toISOString() },
      );
      id = (await this.find(w))!;
    }
    if (this.ids.size >= SqlWorkloads.MAX_CACHED) this.ids.clear();
    this.ids.set(key, id);
    return id;
  }

  async find(w: WorkloadId): Promise<number | undefined> {
    return (await this.db.get<{ id: number }>(
      'SELECT id FROM workloads WHERE cluster = @cluster AND namespace = @namespace AND kind = @kind AND name = @name AND container = @container',
      { cluster: w.cluster, namespace: w.namespace, kind: w.kind, name: w.name, container: w.container },
    ))?.id;
  }

  async get(id: number): Promise<WorkloadRecord | undefined> {
    const r = await this.db.get<Row>('SELECT id, cluster, namespace, kind, name, container, image_policy FROM workloads WHERE id = @id', { id });
    return r ? toRecord(r) : undefined;
  }

  async all(): Promise<WorkloadRecord[]> {
    return (await this.db.all<Row>('SELECT id, cluster, namespace, kind, name, container, image_policy FROM workloads ORDER BY id')).map(toRecord);
  }

  async setImagePolicy(id: number, policy: ImagePolicy | null): Promise<void> {
    await this.db.run('UPDATE workloads SET image_policy = @policy WHERE id = @id', { id, policy });
  }

  /** After a rolled-back transaction: ids it inserted may not exist (the database can hand them out again). */
  invalidate(): void {
    this.ids.clear();
  }
}

function toRecord(r: Row): WorkloadRecord {
  return {
    id: r.id,
    workload: { cluster: r.cluster, namespace: r.namespace, kind: r.kind as WorkloadKind, name: r.name, container: r.container },
    imagePolicy: (r.image_policy as ImagePolicy | null) ?? null,
  };
}
