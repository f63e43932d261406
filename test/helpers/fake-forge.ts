/**
 * A protocol-faithful fake Git forge on loopback: the GitHub REST API and GitLab REST API v4
 * endpoints driftwatch uses to open a change (cli/forge.ts), with their documented request
 * checks, status codes and response shapes, over an in-memory repository of branches and files.
 * Every request is recorded (method, raw path, headers) so tests can check where the token went.
 *
 * GitHub: GET /repos/{o}/{r}, GET /repos/{o}/{r}/git/ref/heads/{b}, POST /repos/{o}/{r}/git/refs,
 *   GET / PUT /repos/{o}/{r}/contents/{path}, POST /repos/{o}/{r}/pulls — token: `Authorization:
 *   Bearer` (or `token`), answers 401 {"message":"Bad credentials"} otherwise.
 * GitLab (under /api/v4): GET /projects/{id}, POST /projects/{id}/repository/branches,
 *   GET /projects/{id}/repository/files/{path}, POST /projects/{id}/repository/commits,
 *   POST /projects/{id}/merge_requests — token: `PRIVATE-TOKEN` (or `Authorization: Bearer`),
 *   {id} is the numeric id or the URL-encoded path.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

interface Branch {
  sha: string;
  files: Map<string, string>;
}

export interface ForgeRequest {
  method: string;
  /** The raw request target, as sent (percent-encoding kept). */
  url: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}

export interface FakeChange {
  number: number;
  title: string;
  body: string;
  head: string;
  base: string;
}

type Reply = [number, unknown];

export class FakeForge {
  readonly requests: ForgeRequest[] = [];
  readonly changes: FakeChange[] = [];
  private readonly branches = new Map<string, Branch>();
  private server: Server | undefined;
  private commits = 0;

  constructor(
    readonly kind: 'github' | 'gitlab',
    /** GitHub owner/name or GitLab group/project. */
    readonly repo: string,
    readonly token: string,
    files: Record<string, string>,
    readonly defaultBranch = 'main',
  ) {
    this.branches.set(defaultBranch, { sha: this.nextSha(), files: new Map(Object.entries(files)) });
  }

  /** The API base URL a client is given (GitLab's includes /api/v4). */
  get apiUrl(): string {
    const port = (this.server!.address() as AddressInfo).port;
    return `http://127.0.0.1:${port}${this.kind === 'gitlab' ? '/api/v4' : ''}`;
  }

  files(branch: string): Map<string, string> | undefined {
    return this.branches.get(branch)?.files;
  }

  /** Merges a change: the base branch takes the head branch's files (a fast-forward). */
  merge(change: FakeChange): void {
    const head = this.branches.get(change.head)!;
    this.branches.set(change.base, { sha: head.sha, files: new Map(head.files) });
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = null;
        let status: number;
        let answer: unknown;
        try {
          body = text ? JSON.parse(text) : null;
          this.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
          [status, answer] = this.authorised(req.headers) ? this.route(req.method ?? '', req.url ?? '', body) : this.kind === 'github' ? [401, { message: 'Bad credentials' }] : [401, { message: '401 Unauthorized' }];
        } catch {
          [status, answer] = [400, { message: 'Problems parsing JSON' }];
        }
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
        res.end(JSON.stringify(answer));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private authorised(h: IncomingHttpHeaders): boolean {
    const bearer = h.authorization === `Bearer ${this.token}` || (this.kind === 'github' && h.authorization === `token ${this.token}`);
    return bearer || (this.kind === 'gitlab' && h['private-token'] === this.token);
  }

  private nextSha(): string {
    return createHash('sha1').update(`commit ${++this.commits}`).digest('hex');
  }

  private route(method: string, rawUrl: string, body: unknown): Reply {
    const [rawPath, qs] = rawUrl.split('?') as [string, string | undefined];
    const query = new URLSearchParams(qs ?? '');
    const segments = rawPath.split('/').slice(1).map(decodeURIComponent);
    return this.kind === 'github' ? this.github(method, segments, query, body) : this.gitlab(method, rawPath, query, body);
  }

  // ---- GitHub ----------------------------------------------------------------------------------

  private github(method: string, s: string[], query: URLSearchParams, body: unknown): Reply {
    const notFound: Reply = [404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' }];
    if (s[0] !== 'repos' || `${s[1]}/${s[2]}` !== this.repo) return notFound;
    const rest = s.slice(3);
    const b = (body ?? {}) as Record<string, unknown>;
    const refObject = (name: string, sha: string) => ({ ref: `refs/heads/${name}`, node_id: 'REF_fake', url: `https://api.github.com/repos/${this.repo}/git/refs/heads/${name}`, object: { type: 'commit', sha, url: `https://api.github.com/repos/${this.repo}/git/commits/${sha}` } });
    if (method === 'GET' && rest.length === 0) return [200, { id: 1, name: s[2], full_name: this.repo, default_branch: this.defaultBranch, private: true }];
    if (method === 'GET' && rest[0] === 'git' && rest[1] === 'ref' && rest[2] === 'heads') {
      const name = rest.slice(3).join('/');
      const branch = this.branches.get(name);
      return branch ? [200, refObject(name, branch.sha)] : notFound;
    }
    if (method === 'POST' && rest.join('/') === 'git/refs') {
      if (typeof b.ref !== 'string' || typeof b.sha !== 'string') return [422, { message: 'Invalid request.', errors: ['ref and sha are required'] }];
      if (!b.ref.startsWith('refs/') || b.ref.split('/').length < 3) return [422, { message: `${b.ref} is not a valid ref name.` }];
      const name = b.ref.slice('refs/heads/'.length);
      if (this.branches.has(name)) return [422, { message: 'Reference already exists' }];
      const from = [...this.branches.values()].find((x) => x.sha === b.sha);
      if (!from) return [422, { message: 'Object does not exist' }];
      this.branches.set(name, { sha: from.sha, files: new Map(from.files) });
      return [201, refObject(name, from.sha)];
    }
    if (rest[0] === 'contents' && rest.length > 1) {
      const path = rest.slice(1).join('/');
      const blobSha = (text: string) => createHash('sha1').update(`blob ${Buffer.byteLength(text)}\0${text}`).digest('hex');
      if (method === 'GET') {
        const branch = this.branches.get(query.get('ref') ?? this.defaultBranch);
        const text = branch?.files.get(path);
        if (text === undefined) return notFound;
        return [200, { type: 'file', encoding: 'base64', size: Buffer.byteLength(text), name: path.split('/').pop(), path, content: Buffer.from(text).toString('base64').replace(/(.{60})/g, '$1\n'), sha: blobSha(text) }];
      }
      if (method === 'PUT') {
        if (typeof b.message !== 'string' || typeof b.content !== 'string') return [422, { message: 'Invalid request.\n\n"message" and "content" are required.' }];
        const branch = this.branches.get(typeof b.branch === 'string' ? b.branch : this.defaultBranch);
        if (!branch) return [404, { message: 'Branch not found' }];
        const existing = branch.files.get(path);
        if (existing !== undefined && b.sha === undefined) return [422, { message: 'Invalid request.\n\n"sha" wasn\'t supplied.' }];
        if (existing !== undefined && b.sha !== blobSha(existing)) return [409, { message: `${path} does not match ${String(b.sha)}` }];
        const text = Buffer.from(b.content, 'base64').toString('utf8');
        branch.files.set(path, text);
        branch.sha = this.nextSha();
        return [existing === undefined ? 201 : 200, { content: { name: path.split('/').pop(), path, sha: blobSha(text) }, commit: { sha: branch.sha, message: b.message } }];
      }
    }
    if (method === 'POST' && rest.join('/') === 'pulls') {
      if (typeof b.title !== 'string' || typeof b.head !== 'string' || typeof b.base !== 'string') return [422, { message: 'Validation Failed', errors: [{ resource: 'PullRequest', code: 'missing_field' }] }];
      if (!this.branches.has(b.head) || !this.branches.has(b.base)) return [422, { message: 'Validation Failed', errors: [{ resource: 'PullRequest', field: 'head', code: 'invalid' }] }];
      const number = this.changes.length + 1;
      this.changes.push({ number, title: b.title, body: typeof b.body === 'string' ? b.body : '', head: b.head, base: b.base });
      return [201, { id: 1000 + number, number, state: 'open', title: b.title, body: b.body ?? null, html_url: `https://github.com/${this.repo}/pull/${number}`, head: { ref: b.head }, base: { ref: b.base } }];
    }
    return notFound;
  }

  // ---- GitLab ----------------------------------------------------------------------------------

  private gitlab(method: string, rawPath: string, query: URLSearchParams, body: unknown): Reply {
    // The project id is one path segment: numeric, or the path with its slashes encoded (%2F).
    const m = /^\/api\/v4\/projects\/([^/]+)(\/.*)?$/.exec(rawPath);
    const notFound: Reply = [404, { message: '404 Project Not Found' }];
    if (!m || (decodeURIComponent(m[1]!) !== this.repo && m[1] !== '42')) return notFound;
    const rest = m[2] ?? '';
    const b = { ...Object.fromEntries(query), ...((body ?? {}) as Record<string, unknown>) } as Record<string, unknown>;
    if (method === 'GET' && rest === '') return [200, { id: 42, path_with_namespace: this.repo, default_branch: this.defaultBranch, web_url: `https://gitlab.example/${this.repo}` }];
    if (method === 'POST' && rest === '/repository/branches') {
      if (typeof b.branch !== 'string' || typeof b.ref !== 'string') return [400, { error: 'branch is missing, ref is missing' }];
      if (this.branches.has(b.branch)) return [400, { message: 'Branch already exists' }];
      const from = this.branches.get(b.ref);
      if (!from) return [400, { message: 'Invalid reference name' }];
      this.branches.set(b.branch, { sha: from.sha, files: new Map(from.files) });
      return [201, { name: b.branch, merged: false, protected: false, default: false, commit: { id: from.sha } }];
    }
    const file = /^\/repository\/files\/([^/]+)$/.exec(rest);
    if (method === 'GET' && file) {
      const path = decodeURIComponent(file[1]!);
      if (typeof b.ref !== 'string') return [400, { error: 'ref is missing' }];
      const branch = this.branches.get(b.ref);
      const text = branch?.files.get(path);
      if (text === undefined) return [404, { message: '404 File Not Found' }];
      return [200, { file_name: path.split('/').pop(), file_path: path, size: Buffer.byteLength(text), encoding: 'base64', content: Buffer.from(text).toString('base64'), ref: b.ref, commit_id: branch!.sha, last_commit_id: branch!.sha }];
    }
    if (method === 'POST' && rest === '/repository/commits') {
      const actions = b.actions as { action?: string; file_path?: string; content?: string }[] | undefined;
      if (typeof b.branch !== 'string' || typeof b.commit_message !== 'string' || !Array.isArray(actions)) return [400, { error: 'branch is missing, commit_message is missing, actions is missing' }];
      const branch = this.branches.get(b.branch);
      if (!branch) return [400, { message: 'You can only create or edit files when you are on a branch' }];
      for (const a of actions) {
        if (typeof a.file_path !== 'string' || typeof a.content !== 'string') return [400, { error: 'actions[file_path] is missing' }];
        const exists = branch.files.has(a.file_path);
        if (a.action === 'create' && exists) return [400, { message: 'A file with this name already exists' }];
        if (a.action === 'update' && !exists) return [400, { message: 'A file with this name doesn\'t exist' }];
        if (a.action !== 'create' && a.action !== 'update') return [400, { error: 'actions[action] does not have a valid value' }];
      }
      for (const a of actions) branch.files.set(a.file_path!, a.content!);
      branch.sha = this.nextSha();
      return [201, { id: branch.sha, short_id: branch.sha.slice(0, 8), title: b.commit_message.split('\n')[0], message: b.commit_message }];
    }
    if (method === 'POST' && rest === '/merge_requests') {
      if (typeof b.source_branch !== 'string' || typeof b.target_branch !== 'string' || typeof b.title !== 'string') return [400, { error: 'source_branch is missing, target_branch is missing, title is missing' }];
      if (!this.branches.has(b.source_branch) || !this.branches.has(b.target_branch)) return [400, { message: ['Source branch does not exist'] }];
      if (this.changes.some((c) => c.head === b.source_branch && c.base === b.target_branch)) return [409, { message: ['Another open merge request already exists for this source branch'] }];
      const iid = this.changes.length + 1;
      this.changes.push({ number: iid, title: b.title, body: typeof b.description === 'string' ? b.description : '', head: b.source_branch, base: b.target_branch });
      return [201, { id: 5000 + iid, iid, project_id: 42, title: b.title, description: b.description ?? null, state: 'opened', source_branch: b.source_branch, target_branch: b.target_branch, web_url: `https://gitlab.example/${this.repo}/-/merge_requests/${iid}` }];
    }
    return [404, { message: '404 Not Found' }];
  }
}
