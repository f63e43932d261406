import { formatDeclaredError, type DeclaredFileStatus } from '../baselines/declared.js';
import type { Principal } from '../store/tokens.js';
import type { ApiContext, RouteSpec } from './server.js';

/**
 * A declared file a namespace-scoped token may see: every baseline in force from it selects one
 * literal namespace of the token's. What a file with a problem says now (its error) is not known to
 * belong to any namespace: the error itself is cluster-wide, shown to unscoped tokens only.
 */
function visibleFile(p: Principal, f: DeclaredFileStatus): boolean {
  const own = p.namespaces;
  if (own === null) return true;
  return f.baselines.length > 0 && f.baselines.every((b) => b.namespace !== null && own.includes(b.namespace));
}

/** The declared baselines' state: which files are in force as they are, which on their last good content, and why. */
export function registerDeclaredRoutes(register: (r: RouteSpec) => void, ctx: ApiContext): void {
  register({
    method: 'GET',
    path: '/baselines/declared/status',
    summary: 'Declared baseline files: what of each is in force and its problem (file:line:column)',
    tag: 'baselines',
    role: 'viewer',
    returns:
      '{ ok, files: [{ file, inForce: current | last-good | none, baselines: [{ name, namespace }], problem, error: { file, line, column, reason, text } | null, lastGoodSince }] }; a namespace-scoped token sees only files all in its namespaces, without error details.',
    handler: ({ principal }) => {
      const all = ctx.declared.status();
      const unscoped = principal.namespaces === null;
      const files = all
        .filter((f) => visibleFile(principal, f))
        .map((f) => ({
          file: f.file,
          inForce: f.inForce,
          baselines: f.baselines,
          problem: f.error !== null,
          error: unscoped && f.error ? { ...f.error, text: formatDeclaredError(f.error) } : null,
          lastGoodSince: f.lastGoodSince,
        }));
      return { ok: files.every((f) => !f.problem), files };
    },
  });
}
