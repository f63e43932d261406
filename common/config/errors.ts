/**
 * A configuration problem: where (file, key, line:column) and why. `driftwatch` prints
 * `toString()` as one line and exits with status 2.
 */
export class ConfigError extends Error {
  readonly code = 'DW_ERR_CONFIG';
  constructor(
    readonly file: string,
    readonly key: string,
    readonly reason: string,
    readonly line?: number,
    readonly column?: number,
  ) {
    super(`${file}${line !== undefined ? `:${line}:${column ?? 1}` : ''}: ${key ? `${key}: ` : ''}${reason}`);
    this.name = 'ConfigError';
  }
}
