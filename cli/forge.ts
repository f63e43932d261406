/**
 * A proposed change opened for review on a Git forge: a branch from the base branch, one commit
 * writing one file, and a pull request (GitHub REST API) or merge request (GitLab REST API v4)
 * with a description. Only the documented endpoints below are used; the token goes in the
 * forge's own header and never into a URL, an error or a log line.
 *
 * GitHub: GET /repos/{o}/{r} · GET /repos/{o}/{r}/git/ref/heads/{base} · POST /repos/{o}/{r}/git/refs ·
 *   GET and PUT /repos/{o}/{r}/contents/{path} · POST /repos/{o}/{r}/pulls
 * GitLab: GET /projects/{id} · POST /projects/{id}/repository/branches ·
 *   GET /projects/{id}/repository/files/{path} · POST /projects/{id}/repository/commits ·
 *   POST /projects/{id}/merge_requests
 */
import { isLoopbackAddress } from '../common/net.js';
import { redactUrl } from '../common/redact.js';
import { terminalSafe } from '../common/text.js';

export const FORGES = ['github', 'gitlab'] as const;
export type ForgeKind = (typeof FORGES)[number];

/** The public API of each forge; a self-hosted one is given with --forge-url. */
export const DEFAULT_FORGE_URL: Readonly<Record<ForgeKind, string>> = { github: 'https://api.github.com', gitlab: 'https://gitlab.com/api/v4' };

export interface ForgeOptions {
  kind: ForgeKind;
  /** API base URL (DEFAULT_FORGE_URL when not given). */
  apiUrl?: string;
  /** GitHub `owner/name`; GitLab the project path `group/sub/project` or its numeric id. */
  repo: string;
  token: string;
  /** Allow plain http to a non-loopback forge. */
  insecure?: boolean;
  fetchImpl?: typeof fetch;
}

export interface ChangeRequest {
  /** The branch to create (it must not exist yet). */
  branch: string;
  /** The branch to merge into (default: the repository's default branch). */
  base?: string;
  /** Repository-relative path of the file to write, and its new content. */
  path: string;
  content: string;
  message: string;
  title: string;
  /** Markdown description. */
  body: string;
}

export interface OpenedChange {
  number: number;
  url: string;
  branch: string;
  base: string;
}

export class ForgeError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ForgeError';
  }
}

/** Opens the change on the forge; returns the pull / merge request. */
export async function openChange(o: ForgeOptions, change: ChangeRequest): Promise<OpenedChange> {
  const call = forgeClient(o);
  return o.kind === 'github' ? openOnGitHub(call, o.repo, change) : openOnGitLab(call, o.repo, change);
}

type Call = <T>(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown) => Promise<{ status: number; body: T }>;

function forgeClient(o: ForgeOptions): Call {
  const base = (o.apiUrl ?? DEFAULT_FORGE_URL[o.kind]).replace(/\/+$/, '');
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new Error('--forge-url: not a URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`--forge-url: use https:// (got ${url.protocol})`);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (url.protocol === 'http:' && !o.insecure && !isLoopbackAddress(host.includes(':') ? `[${host}]:1` : `${host}:1`)) {
    throw new Error(`refusing to send the forge token over plain http to ${url.host}: use https, or --insecure`);
  }
  if (!o.token) throw new Error('a forge token is needed: set DRIFTWATCH_FORGE_TOKEN or pass --forge-token-file');
  const auth: Record<string, string> =
    o.kind === 'github'
      ? { authorization: `Bearer ${o.token}`, accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28' }
      : { 'private-token': o.token, accept: 'application/json' };
  const fetchImpl = o.fetchImpl ?? fetch;
  return async <T>(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown) => {
    const headers: Record<string, string> = { ...auth, 'user-agent': 'driftwatch' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetchImpl(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), redirect: 'error', signal: AbortSignal.timeout(30_000) });
    } catch (err) {
      throw new Error(`cannot reach the forge at ${redactUrl(base)}: ${terminalSafe((err as Error).message)}`);
    }
    const text = await res.text();
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // not JSON (a proxy's page): the status says enough
    }
    if (res.status === 404 && method === 'GET') return { status: 404, body: parsed as T };
    if (!res.ok) {
      const message = (parsed as { message?: unknown } | null)?.message;
      const said = typeof message === 'string' ? message : message !== undefined ? JSON.stringify(message) : '';
      throw new ForgeError(res.status, `${o.kind} ${method} ${path.split('?')[0]}: HTTP ${res.status}${said ? ` ${terminalSafe(said.slice(0, 300))}` : ''}`);
    }
    return { status: res.status, body: parsed as T };
  };
}

/** `a/b c.yaml` → `a/b%20c.yaml`: each segment encoded, the slashes kept (GitHub's contents path). */
function pathSegments(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

function required<T>(r: { status: number; body: T }, what: string): T {
  if (r.status === 404) throw new ForgeError(404, `${what}: not found (or the token may not read it)`);
  return r.body;
}

async function openOnGitHub(call: Call, repo: string, c: ChangeRequest): Promise<OpenedChange> {
  const [owner, name, ...rest] = repo.split('/');
  if (!owner || !name || rest.length > 0) throw new Error(`--repo: GitHub repositories are owner/name (got ${JSON.stringify(repo)})`);
  const r = `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(name)}`;
  const base = c.base ?? required(await call<{ default_branch: string }>('GET', r), `repository ${repo}`).default_branch;
  const head = required(await call<{ object: { sha: string } }>('GET', `${r}/git/ref/heads/${pathSegments(base)}`), `branch ${base}`);
  await call('POST', `${r}/git/refs`, { ref: `refs/heads/${c.branch}`, sha: head.object.sha });
  const contents = `${r}/contents/${pathSegments(c.path)}`;
  const existing = await call<{ sha: string }>('GET', `${contents}?ref=${encodeURIComponent(c.branch)}`);
  await call('PUT', contents, {
    message: c.message,
    content: Buffer.from(c.content, 'utf8').toString('base64'),
    branch: c.branch,
    ...(existing.status === 404 ? {} : { sha: existing.body.sha }),
  });
  const pr = (await call<{ number: number; html_url: string }>('POST', `${r}/pulls`, { title: c.title, head: c.branch, base, body: c.body })).body;
  return { number: pr.number, url: pr.html_url, branch: c.branch, base };
}

async function openOnGitLab(call: Call, repo: string, c: ChangeRequest): Promise<OpenedChange> {
  if (!repo || repo.startsWith('/') || repo.endsWith('/')) throw new Error(`--repo: GitLab projects are group/project or a project id (got ${JSON.stringify(repo)})`);
  const p = `/projects/${encodeURIComponent(repo)}`;
  const base = c.base ?? required(await call<{ default_branch: string }>('GET', p), `project ${repo}`).default_branch;
  await call('POST', `${p}/repository/branches`, { branch: c.branch, ref: base });
  const existing = await call('GET', `${p}/repository/files/${encodeURIComponent(c.path)}?ref=${encodeURIComponent(c.branch)}`);
  await call('POST', `${p}/repository/commits`, {
    branch: c.branch,
    commit_message: c.message,
    actions: [{ action: existing.status === 404 ? 'create' : 'update', file_path: c.path, content: c.content }],
  });
  const mr = (await call<{ iid: number; web_url: string }>('POST', `${p}/merge_requests`, { source_branch: c.branch, target_branch: base, title: c.title, description: c.body, remove_source_branch: true })).body;
  return { number: mr.iid, url: mr.web_url, branch: c.branch, base };
}
