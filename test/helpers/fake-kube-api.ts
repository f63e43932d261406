/**
 * A fake Kubernetes API server (real HTTP, the wire behaviour client-node relies on):
 * - `GET /api/v1/pods?fieldSelector=spec.nodeName=<n>`: a PodList with a resourceVersion;
 * - the same with `watch=true`: a long-lived chunked stream of JSON lines `{type, object}`
 *   (ADDED / MODIFIED / DELETED) for pods that match the field selector;
 * - `GET /apis/apps/v1/namespaces/<ns>/replicasets/<name>` and
 *   `GET /apis/batch/v1/namespaces/<ns>/jobs/<name>`: the object or a 404 Status.
 * A watch from `resourceVersion=N` first replays the events after N, as the API server does.
 * Requests are recorded so tests can check that only this node's pods were asked for.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface OwnerRef {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
}

export interface FakeObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace: string; uid?: string; labels?: Record<string, string>; ownerReferences?: OwnerRef[]; resourceVersion?: string; generateName?: string };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

export class FakeKubeApi {
  private server: Server | undefined;
  private readonly pods = new Map<string, FakeObject>();
  private readonly replicaSets = new Map<string, FakeObject>();
  private readonly jobs = new Map<string, FakeObject>();
  private readonly watchers = new Set<{ res: ServerResponse; node: string | null }>();
  private rv = 1;
  /** Every pod event, so a watch from resourceVersion N replays what it missed (as the API does). */
  private readonly history: { rv: number; type: string; object: FakeObject }[] = [];
  readonly requests: string[] = [];
  /** Answer 403 to owner lookups (an agent without RBAC for replicasets/jobs). */
  denyOwnerLookups = false;

  get url(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
  }

  addReplicaSet(rs: FakeObject): void {
    this.replicaSets.set(`${rs.metadata.namespace}/${rs.metadata.name}`, { apiVersion: 'apps/v1', kind: 'ReplicaSet', ...rs });
  }

  addJob(job: FakeObject): void {
    this.jobs.set(`${job.metadata.namespace}/${job.metadata.name}`, { apiVersion: 'batch/v1', kind: 'Job', ...job });
  }

  /** Adds or changes a pod; open watches see ADDED / MODIFIED. */
  putPod(pod: FakeObject): void {
    const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
    const type = this.pods.has(key) ? 'MODIFIED' : 'ADDED';
    const obj = { apiVersion: 'v1', kind: 'Pod', ...pod, metadata: { uid: `uid-${key}`, ...pod.metadata, resourceVersion: String(++this.rv) } };
    this.pods.set(key, obj);
    this.emit(type, obj);
  }

  deletePod(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    const obj = this.pods.get(key);
    if (!obj) return;
    this.pods.delete(key);
    this.emit('DELETED', { ...obj, metadata: { ...obj.metadata, resourceVersion: String(++this.rv) } });
  }

  /** Ends every open watch (the client must re-watch). */
  dropWatches(): void {
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
  }

  private emit(type: string, obj: FakeObject): void {
    this.history.push({ rv: Number(obj.metadata.resourceVersion), type, object: obj });
    for (const w of this.watchers) this.send(w, type, obj);
  }

  private send(w: { res: ServerResponse; node: string | null }, type: string, obj: FakeObject): void {
    if (w.node !== null && (obj.spec?.nodeName as string | undefined) !== w.node) return;
    w.res.write(JSON.stringify({ type, object: obj }) + '\n');
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    this.requests.push(`${req.method} ${url.pathname}${url.search}`);
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const notFound = (): void =>
      send(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: `${url.pathname} not found` });
    if (req.method !== 'GET') return send(405, { kind: 'Status', code: 405 });

    if (url.pathname === '/api/v1/pods') {
      const selector = url.searchParams.get('fieldSelector');
      const node = selector?.startsWith('spec.nodeName=') ? selector.slice('spec.nodeName='.length) : null;
      if (url.searchParams.get('watch') === 'true') {
        res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
        res.flushHeaders();
        const w = { res, node };
        this.watchers.add(w);
        const from = Number(url.searchParams.get('resourceVersion') ?? '0');
        if (from > 0) for (const e of this.history) if (e.rv > from) this.send(w, e.type, e.object);
        req.on('close', () => this.watchers.delete(w));
        return;
      }
      const items = [...this.pods.values()].filter((p) => node === null || p.spec?.nodeName === node);
      return send(200, { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: String(this.rv) }, items });
    }
    const m = /^\/apis\/(apps|batch)\/v1\/namespaces\/([^/]+)\/(replicasets|jobs)\/([^/]+)$/.exec(url.pathname);
    if (m) {
      if (this.denyOwnerLookups) return send(403, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Forbidden', code: 403 });
      const store = m[3] === 'replicasets' ? this.replicaSets : this.jobs;
      const obj = store.get(`${m[2]}/${m[4]}`);
      return obj ? send(200, obj) : notFound();
    }
    notFound();
  }

  async stop(): Promise<void> {
    this.dropWatches();
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}

/** A pod as the API returns it, scheduled on `node`, with one running container. */
export function fakePod(opts: {
  namespace: string;
  name: string;
  node: string;
  labels?: Record<string, string>;
  owner?: { kind: string; name: string; apiVersion?: string };
  container?: string;
  containerId?: string;
}): FakeObject {
  const container = opts.container ?? 'main';
  return {
    metadata: {
      name: opts.name,
      namespace: opts.namespace,
      labels: opts.labels ?? {},
      ...(opts.owner
        ? { ownerReferences: [{ apiVersion: opts.owner.apiVersion ?? 'apps/v1', kind: opts.owner.kind, name: opts.owner.name, uid: `uid-${opts.owner.name}`, controller: true }] }
        : {}),
    },
    spec: { nodeName: opts.node, containers: [{ name: container, image: 'example/app:1' }] },
    status: {
      phase: 'Running',
      containerStatuses: [{ name: container, containerID: `containerd://${opts.containerId ?? 'f'.repeat(64)}`, ready: true, restartCount: 0, image: 'example/app:1', imageID: '' }],
    },
  };
}
