import { ApiError } from './errors.js';

/** Schemas and parsers shared by the routes. */

export const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'integer', minimum: 1, description: 'Numeric id.' } },
} as const;

/** The body of a status change: an optional comment. */
export const commentBody = {
  type: 'object',
  additionalProperties: false,
  properties: { comment: { type: 'string', maxLength: 2000 } },
} as const;

export const limitQuery = { type: 'integer', minimum: 1, maximum: 5000, default: 50, description: 'Page size (capped by collector.api.maxPageSize).' } as const;

/** The latest time a Date holds (ECMAScript: 8.64e15 ms): a later one cannot become a timestamp. */
export const MAX_EPOCH_MS = 8_640_000_000_000_000;

/** A time parameter in ms since the epoch, bounded to what a Date can hold (the store compares ISO timestamps). */
export function epochMsQuery(description: string) {
  return { type: 'number', minimum: 0, maximum: MAX_EPOCH_MS, description } as const;
}

export const cursorQuery = { type: 'string', maxLength: 1000, description: 'The `next` cursor of the previous page.' } as const;

/** `a,b,c` lists in query strings. */
export function csvPattern(values: readonly string[]): { type: 'string'; pattern: string } {
  const alt = values.map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
  return { type: 'string', pattern: `^(${alt})(,(${alt}))*$` };
}

export function splitCsv<T extends string>(value: unknown): T[] | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  return [...new Set(value.split(','))] as T[];
}

/** Cursors are opaque to clients: base64url JSON of the last row's sort key (and the sort it belongs to). */
export function encodeCursor(value: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

export function decodeCursor(text: unknown): Record<string, unknown> | undefined {
  if (text === undefined || text === '') return undefined;
  try {
    const v = JSON.parse(Buffer.from(String(text), 'base64url').toString('utf8')) as unknown;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new ApiError('DW_ERR_BAD_CURSOR', 'the cursor is malformed');
}

export function pageLimit(value: unknown, max: number): number {
  const n = typeof value === 'number' ? value : 50;
  return Math.min(Math.max(1, Math.floor(n)), max);
}

/** The body of a decision: a reason is required (its minimum length is checked by `reasonOf`). */
export const reasonBody = {
  type: 'object',
  additionalProperties: false,
  required: ['comment'],
  properties: { comment: { type: 'string', minLength: 1, maxLength: 2000, description: 'Why (kept in the audit log); at least collector.api.minReasonLength characters.' } },
} as const;

/**
 * The reason of a decision, refused when shorter than `min` characters (spaces around it do not
 * count): an approval without a reason is a decision nobody can review later.
 */
export function reasonOf(body: unknown, min: number): string {
  const reason = commentOf(body).trim();
  if (reason.length < min) throw new ApiError('DW_ERR_VALIDATION', `a reason is required: say why in at least ${min} characters (it is kept in the audit log)`);
  return reason;
}

export function commentOf(body: unknown): string {
  const c = (body as { comment?: unknown } | undefined)?.comment;
  return typeof c === 'string' ? c : '';
}
