import type { IncomingMessage } from 'node:http';
import { ApiError } from './errors.js';
import type { TokenRepository } from '../store/contract.js';
import { roleRank, type Principal, type Role } from '../store/tokens.js';

/** The bearer token of a request (`Authorization: Bearer dw_…`), or undefined. */
export function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1] : undefined;
}

/**
 * Counts failed authentications per client address in one-minute windows: a token cannot be
 * guessed, but a flood of failures is worth refusing cheaply (and it keeps the logs short).
 * Only failures are counted and only failures are refused: behind an ingress every user may share
 * one address, so a valid token is never limited by what others got wrong (see authenticate).
 * Bounded: at most `maxTracked` addresses, the table is reset when full.
 */
export class AuthFailureLimiter {
  private readonly failures = new Map<string, { windowStart: number; count: number }>();

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number,
    private readonly maxTracked = 10_000,
  ) {}

  blocked(address: string): boolean {
    const e = this.failures.get(address);
    return e !== undefined && this.now() - e.windowStart < 60_000 && e.count >= this.perMinute;
  }

  fail(address: string): void {
    const now = this.now();
    let e = this.failures.get(address);
    if (!e || now - e.windowStart >= 60_000) {
      if (this.failures.size >= this.maxTracked) this.failures.clear();
      e = { windowStart: now, count: 0 };
      this.failures.set(address, e);
    }
    e.count += 1;
  }
}

/**
 * The principal of a presented token. The token is verified first (one SHA-256 and one indexed
 * lookup): a valid token always gets in, whatever failed from its address. A request without a
 * token is a 401, neither counted nor limited (nothing was guessed); a wrong token is counted,
 * and once its address is over the limit, refused with 429 instead of 401.
 */
export async function authenticate(tokens: TokenRepository, limiter: AuthFailureLimiter, presented: string | undefined, address: string): Promise<Principal> {
  if (presented === undefined) throw new ApiError('DW_ERR_UNAUTHENTICATED', 'a bearer token is required (Authorization: Bearer dw_…)');
  const principal = await tokens.verify(presented);
  if (principal) return principal;
  if (limiter.blocked(address)) throw new ApiError('DW_ERR_RATE_LIMITED', 'too many failed authentications; retry in a minute');
  limiter.fail(address);
  throw new ApiError('DW_ERR_UNAUTHENTICATED', 'the token is unknown, revoked or expired');
}

export function requireRole(p: Principal, role: Role): void {
  if (roleRank(p.role) < roleRank(role)) throw new ApiError('DW_ERR_FORBIDDEN_ROLE', `this needs the ${role} role; the token has ${p.role}`);
}

export function inScope(p: Principal, namespace: string): boolean {
  return p.namespaces === null || p.namespaces.includes(namespace);
}

/** For a namespace the caller names itself (a query or body field): 403 tells it nothing new. */
export function requireScope(p: Principal, namespace: string): void {
  if (!inScope(p, namespace)) throw new ApiError('DW_ERR_FORBIDDEN_SCOPE', 'the target is outside the namespaces of this token');
}

/**
 * For a thing addressed by its id (a deviation, baseline, workload, token): outside the caller's
 * scope it is answered exactly as if it did not exist, so a scoped token cannot learn by probing
 * ids what other namespaces hold (a 403 would say "this exists").
 */
export function visibleOr404<T>(found: T | undefined, visible: (found: T) => boolean, notFound: string): T {
  if (found === undefined || !visible(found)) throw new ApiError('DW_ERR_NOT_FOUND', notFound);
  return found;
}

/** What the audit log records as the actor: the token's name, marked as a token. */
export function actorOf(p: Principal): string {
  return `token:${p.name}`;
}
