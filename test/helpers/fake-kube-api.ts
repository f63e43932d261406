/**
 * A fake Kubernetes API server (real HTTP, the wire behaviour client-node relies on):
 * - `GET /api/v1/pods[?fieldSelector=spec.nodeName=<n>]` and `GET /api/v1/services`: a list with
 *   a resourceVersion;
 * - the same with `watch=true`: a long-lived chunked stream of JSON lines `{type, object}`
 *   (ADDED / MODIFIED / DELETED) for objects that match the field selector;
 * - `GET /apis/apps/v1/namespaces/<ns>/replicasets/<name>` and
 *   `GET /apis/batch/v1/namespaces/<ns>/jobs/<name>`: the object or a 404 Status.
 * A watch from `resourceVersion=N` first replays the events after N, as the API server does.
 * Requests are recorded so tests can check that only this node's pods were asked for.
 * `unavailable` answers 503 to everything (an API server outage).
 */
import { KubeConfig } from '@kubernetes/client-node';
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
  metadata: { name: string; namespace: string; uid?: string; labels?: Record<string, string>; annotations?: Record<string, string>; ownerReferences?: OwnerRef[]; resourceVersion?: string; generateName?: string };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

type Watched = 'pods' | 'services';

interface Watcher {
  res: ServerResponse;
  resource: Watched;
  node: string | null;
}

const LIST_KIND: Record<Watched, string> = { pods: 'PodList', services: 'ServiceList' };
const OBJECT_KIND: Record<Watched, string> = { pods: 'Pod', services: 'Service' };

export class FakeKubeApi {
  private server: Server | undefined;
  private readonly objects: Record<Watched, Map<string, FakeObject>> = { pods: new Map(), services: new Map() };
  private readonly replicaSets = new Map<string, FakeObject>();
  private readonly jobs = new Map<string, FakeObject>();
  private readonly watchers = new Set<Watcher>();
  private rv = 1;
  /** Every event, so a watch from resourceVersion N replays what it missed (as the API does). */
  private readonly history: { rv: number; resource: Watched; type: string; object: FakeObject }[] = [];
  readonly requests: string[] = [];
  /** Answer 403 to owner lookups (an agent without RBAC for replicasets/jobs). */
  denyOwnerLookups = false;
  /** Answer 503 to every request (the API server is down). */
  unavailable = false;

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
    this.put('pods', pod);
  }

  deletePod(namespace: string, name: string): void {
    this.delete('pods', namespace, name);
  }

  putService(service: FakeObject): void {
    this.put('services', service);
  }

  deleteService(namespace: string, name: string): void {
    this.delete('services', namespace, name);
  }

  /** Ends every open watch (the client must re-watch). */
  dropWatches(): void {
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
  }

  private put(resource: Watched, object: FakeObject): void {
    const key = `${object.metadata.namespace}/${object.metadata.name}`;
    const store = this.objects[resource];
    const type = store.has(key) ? 'MODIFIED' : 'ADDED';
    const obj = { apiVersion: 'v1', kind: OBJECT_KIND[resource], ...object, metadata: { uid: `uid-${key}`, ...object.metadata, resourceVersion: String(++this.rv) } };
    store.set(key, obj);
    this.emit(resource, type, obj);
  }

  private delete(resource: Watched, namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    const store = this.objects[resource];
    const obj = store.get(key);
    if (!obj) return;
    store.delete(key);
    this.emit(resource, 'DELETED', { ...obj, metadata: { ...obj.metadata, resourceVersion: String(++this.rv) } });
  }

  private emit(resource: Watched, type: string, obj: FakeObject): void {
    this.history.push({ rv: Number(obj.metadata.resourceVersion), resource, type, object: obj });
    for (const w of this.watchers) if (w.resource === resource) this.send(w, type, obj);
  }

  private send(w: Watcher, type: string, obj: FakeObject): void {
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

    if (this.unavailable) return send(503, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'ServiceUnavailable', code: 503 });

    const watched = /^\/api\/v1\/(pods|services)$/.exec(url.pathname);
    if (watched) {
      const resource = watched[1] as Watched;
      const selector = url.searchParams.get('fieldSelector');
      const node = resource === 'pods' && selector?.startsWith('spec.nodeName=') ? selector.slice('spec.nodeName='.length) : null;
      if (url.searchParams.get('watch') === 'true') {
        res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
        res.flushHeaders();
        const w: Watcher = { res, resource, node };
        this.watchers.add(w);
        const from = Number(url.searchParams.get('resourceVersion') ?? '0');
        if (from > 0) for (const e of this.history) if (e.resource === resource && e.rv > from) this.send(w, e.type, e.object);
        req.on('close', () => this.watchers.delete(w));
        return;
      }
      const items = [...this.objects[resource].values()].filter((p) => node === null || p.spec?.nodeName === node);
      return send(200, { kind: LIST_KIND[resource], apiVersion: 'v1', metadata: { resourceVersion: String(this.rv) }, items });
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

/** A KubeConfig for the fake server (a bearer token, as a service account would send). */
export function fakeKubeConfig(url: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'fake', server: url, skipTLSVerify: true }],
    users: [{ name: 'driftwatch', token: 'test-token' }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'driftwatch' }],
    currentContext: 'fake',
  });
  return kc;
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
  /** The pod's addresses (status.podIP is the first). */
  ips?: string[];
  hostNetwork?: boolean;
  phase?: string;
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
    spec: { nodeName: opts.node, containers: [{ name: container, image: 'example/app:1' }], ...(opts.hostNetwork ? { hostNetwork: true } : {}) },
    status: {
      phase: opts.phase ?? 'Running',
      ...(opts.ips?.length ? { podIP: opts.ips[0], podIPs: opts.ips.map((ip) => ({ ip })) } : {}),
      containerStatuses: [{ name: container, containerID: `containerd://${opts.containerId ?? 'f'.repeat(64)}`, ready: true, restartCount: 0, image: 'example/app:1', imageID: '' }],
    },
  };
}

/** A ClusterIP Service (one address per entry of `ips`; `['None']` = headless). */
export function fakeService(opts: { namespace: string; name: string; ips: string[] }): FakeObject {
  return {
    metadata: { name: opts.name, namespace: opts.namespace },
    spec: { type: 'ClusterIP', clusterIP: opts.ips[0], clusterIPs: opts.ips, ports: [{ port: 80, protocol: 'TCP' }] },
    status: {},
  };
}
