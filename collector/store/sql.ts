/**
 * The asynchronous SQL seam under the repositories. Repositories (`collector/store/*.ts`) write
 * portable SQL with named `@param`s; each backend supplies an executor (`sqlite/`, and PostgreSQL
 * later) that runs it on the connection of the current transaction, or on its own outside one.
 */
export type SqlValue = string | number | bigint | null | Buffer;
export type SqlParams = Record<string, SqlValue>;

export interface RunResult {
  changes: number;
}

export interface SqlExecutor {
  run(sql: string, params?: SqlParams): Promise<RunResult>;
  get<T>(sql: string, params?: SqlParams): Promise<T | undefined>;
  all<T>(sql: string, params?: SqlParams): Promise<T[]>;
}
