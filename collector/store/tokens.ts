import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { StorageUnavailableError, type TokenRepository } from './contract.js';
import type { SqlExecutor } from './sql.js';

/** Roles in increasing order of power: each one can do everything the ones before it can. */
export const ROLES = ['viewer', 'analyst', 'approver', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export function roleRank(role: Role): number {
  return ROLES.indexOf(role);
}

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

/** Who is calling: what the API checks on every request and records in the audit log. */
export interface Principal {
  tokenId: number;
  name: string;
  role: Role;
  /** null = every namespace. */
  namespaces: readonly string[] | null;
}

export interface TokenInfo extends Principal {
  createdAt: string;
  createdBy: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export const TOKEN_PREFIX = 'dw_';
const TOKEN_PATTERN = /^dw_[A-Za-z0-9_-]{43}$/;

interface TokenRow {
  id: number;
  name: string;
  role: string;
  namespaces: string | null;
  token_hash: string;
  created_at: string;
  created_by: string;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
}

function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

function toInfo(row: TokenRow): TokenInfo {
  return {
    tokenId: row.id,
    name: row.name,
    role: isRole(row.role) ? row.role : 'viewer',
    namespaces: row.namespaces === null ? null : (JSON.parse(row.namespaces) as string[]),
    createdAt: row.created_at,
    createdBy: row.created_by,
    expiresAt: row.expires_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  };
}

export interface CreateTokenInput {
  name: string;
  role: Role;
  /** null / absent = every namespace; an empty list is refused. */
  namespaces?: readonly string[] | null;
  createdBy: string;
  /** ISO time after which the token stops working. */
  expiresAt?: string | null;
}

/**
 * Bearer tokens: `dw_` + 32 random bytes (base64url). Only the SHA-256 is stored, so the database
 * cannot give a token back; the caller shows it once. A fast hash is right here (unlike passwords):
 * 256 random bits cannot be guessed, and every API request verifies one.
 */
export class SqlTokens implements TokenRepository {
  /** When last_used_at was last written per token, so that verifying costs no write per request. */
  private readonly lastUsedWritten = new Map<number, number>();

  constructor(
    private readonly db: SqlExecutor,
    private readonly now: () => number = Date.now,
  ) {}

  async create(input: CreateTokenInput): Promise<{ token: string; info: TokenInfo }> {
    if (!/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/.test(input.name)) throw new Error(`invalid token name ${JSON.stringify(input.name)}: letters, digits, . _ @ - (max 64)`);
    // An empty list must not quietly become "every namespace": only null / absent means that.
    if (input.namespaces && input.namespaces.length === 0) throw new Error('a token limited to namespaces needs at least one namespace (omit the list for every namespace)');
    const namespaces = input.namespaces ? [...new Set(input.namespaces)].sort() : null;
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const at = new Date(this.now()).toISOString();
    const existing = await this.db.get<{ id: number }>('SELECT id FROM api_tokens WHERE name = @name', { name: input.name });
    if (existing) throw new Error(`a token named ${JSON.stringify(input.name)} already exists (revoke it first)`);
    const r = await this.db.get<{ id: number }>(
      'INSERT INTO api_tokens (name, role, namespaces, token_hash, created_at, created_by, expires_at) VALUES (@name, @role, @ns, @hash, @at, @by, @exp) RETURNING id',
      { name: input.name, role: input.role, ns: namespaces ? JSON.stringify(namespaces) : null, hash: hashToken(token), at, by: input.createdBy, exp: input.expiresAt ?? null },
    );
    return { token, info: (await this.get(r!.id))! };
  }

  async get(id: number): Promise<TokenInfo | undefined> {
    const row = await this.db.get<TokenRow>('SELECT * FROM api_tokens WHERE id = @id', { id });
    return row ? toInfo(row) : undefined;
  }

  async list(): Promise<TokenInfo[]> {
    return (await this.db.all<TokenRow>('SELECT * FROM api_tokens ORDER BY id')).map(toInfo);
  }

  async revoke(id: number): Promise<TokenInfo | undefined> {
    await this.db.run('UPDATE api_tokens SET revoked_at = @at WHERE id = @id AND revoked_at IS NULL', { id, at: new Date(this.now()).toISOString() });
    return this.get(id);
  }

  /** The principal of a presented token, or undefined (unknown, malformed, revoked or expired). */
  async verify(presented: string): Promise<Principal | undefined> {
    if (!TOKEN_PATTERN.test(presented)) return undefined;
    const hash = hashToken(presented);
    const row = await this.db.get<TokenRow>('SELECT * FROM api_tokens WHERE token_hash = @hash', { hash });
    if (!row) return undefined;
    // The lookup is by hash already; compare again in constant time so that no index timing matters.
    if (!timingSafeEqual(Buffer.from(row.token_hash, 'hex'), Buffer.from(hash, 'hex'))) return undefined;
    const now = this.now();
    if (row.revoked_at !== null) return undefined;
    if (row.expires_at !== null && Date.parse(row.expires_at) <= now) return undefined;
    await this.touch(row.id, now);
    const info = toInfo(row);
    return { tokenId: info.tokenId, name: info.name, role: info.role, namespaces: info.namespaces };
  }

  /** last_used_at at minute resolution: one write per token per minute, not per request. */
  private async touch(id: number, now: number): Promise<void> {
    const last = this.lastUsedWritten.get(id) ?? 0;
    if (now - last < 60_000) return;
    this.lastUsedWritten.set(id, now);
    try {
      await this.db.run('UPDATE api_tokens SET last_used_at = @at WHERE id = @id', { id, at: new Date(now).toISOString() });
    } catch (err) {
      // Last use is a hint: a full disk must not lock people out of reading what was stored.
      if (!(err instanceof StorageUnavailableError)) throw err;
    }
  }
}
