/**
 * Acceptance: the agent started with the configuration the Tetragon overlay gives it (ConfigMap +
 * the pod's environment) connects to a protocol-faithful fake Tetragon through the socket path
 * the DaemonSet mounts, and asks it for exec, exit and kprobe events.
 *
 * Only what cannot exist outside a cluster is moved: the socket directory when the host path is
 * not ours to use (remapped by its mount-path prefix only, the file name kept), the collector
 * address and TLS files (a throw-away PKI), the ops listener (loopback), and the Kubernetes API
 * (off). Everything else is the manifests' own configuration.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { posix } from 'node:path';
import { startAgent } from '../../agent/main.js';
import type { GrpcSourceConfig } from '../../agent/sources/grpc-config.js';
import { sourceProtos } from '../../agent/sources/protos.js';
import { socketDir, until } from '../helpers/agent-support.js';
import { makeTestPki } from '../helpers/certs.js';
import { FakeTetragon } from '../helpers/fake-tetragon.js';
import { render } from './kustomize.js';
import { DEPLOY_ROOT, FAKE_NODE, container, effectiveConfig, mountFor, mustFind, podSpecOf, unixSocketPath, volumeOf } from './manifests.js';

/** A loopback port nobody listens on: the agent's collector connection fails and retries, harmlessly. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

t.test('the agent with the Tetragon overlay config connects through the socket the DaemonSet mounts', async (t) => {
  const objects = render(posix.join(DEPLOY_ROOT, 'overlays', 'tetragon'));
  const ds = mustFind(objects, 'DaemonSet', 'driftwatch-agent');
  const agentContainer = container(ds, 'agent');
  const spec = podSpecOf(ds)!;

  // One t.testdir() per test: a second call would empty the first.
  const tmp = t.testdir();
  const asDeployed = effectiveConfig(ds, 'agent', objects, tmp).agent;
  t.equal(asDeployed.sources.length, 1);
  const source = asDeployed.sources[0] as GrpcSourceConfig;
  t.equal(source.kind, 'tetragon-grpc');
  const socketPath = unixSocketPath(source.address);
  t.ok(socketPath, `the source dials a unix socket (${source.address})`);
  if (!socketPath) return;

  // The socket must sit on the hostPath mount, mounted at the host's own path.
  const mount = mountFor(agentContainer, socketPath);
  const hostPath = mount ? volumeOf(spec, mount.name)?.hostPath : undefined;
  t.ok(hostPath, 'the socket is on a hostPath volume');
  if (!mount || !hostPath) return;
  t.equal(hostPath.path, mount.mountPath, 'mounted at the same path as on the host');

  // Prefer the exact path. Use it only when the directory does not exist (we create and remove
  // it): an existing one may belong to a real Tetragon, whose socket must not be replaced.
  let socketDirPath = mount.mountPath;
  if (existsSync(mount.mountPath)) {
    socketDirPath = socketDir(t);
  } else {
    try {
      mkdirSync(mount.mountPath, { recursive: true, mode: 0o755 });
      t.teardown(() => rmSync(mount.mountPath, { recursive: true, force: true }));
    } catch {
      socketDirPath = socketDir(t);
    }
  }
  const relativeSocket = posix.relative(mount.mountPath, socketPath);
  const address = `unix://${posix.join(socketDirPath, relativeSocket)}`;
  if (socketDirPath === mount.mountPath) t.equal(address, source.address, `exact manifest path ${source.address}`);
  else t.equal(address.slice(`unix://${socketDirPath}`.length), source.address!.slice(`unix://${mount.mountPath}`.length), `only the mount path ${mount.mountPath} is remapped (to ${socketDirPath})`);

  const tetragon = new FakeTetragon({ address });
  await tetragon.start();
  t.teardown(() => tetragon.stop());

  const pki = makeTestPki(tmp);
  const collectorPort = await closedPort();
  const config = effectiveConfig(ds, 'agent', objects, tmp, {
    'agent.sources': [{ ...source, address }],
    'agent.collector.address': `127.0.0.1:${collectorPort}`,
    'agent.collector.tls': { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey, serverName: 'localhost' },
    'agent.http.listen': '127.0.0.1:0',
    'agent.kubernetes.mode': 'off',
  });
  t.equal(config.agent.node, FAKE_NODE, 'node name from the downward API variable');
  t.same(
    { ...config.agent, sources: undefined, collector: undefined, http: undefined, kubernetes: undefined },
    { ...asDeployed, sources: undefined, collector: undefined, http: undefined, kubernetes: undefined },
    'everything else is the manifests’ configuration',
  );

  const agent = await startAgent(config);
  t.teardown(() => agent.close());
  const tetragonSource = agent.sources.find((s) => s.kind === 'tetragon-grpc');
  t.ok(tetragonSource, 'the agent runs the tetragon-grpc source');
  await until(() => tetragon.requests.length > 0 && tetragon.activeCalls > 0 && tetragonSource!.connected, 10_000, 'GetEvents call on the socket');
  t.equal(tetragon.connections, 1, 'one GetEvents stream');
  const { tetragonRequest } = sourceProtos();
  const request = tetragonRequest.decode(tetragon.requests[0]!) as unknown as { allow_list: { event_set: number[] }[] };
  t.same(
    request.allow_list.map((f) => [...f.event_set]),
    [[1, 5, 9, 27]],
    'GetEvents asks for PROCESS_EXEC, PROCESS_EXIT and PROCESS_KPROBE (the TracingPolicy’s TCP hooks arrive as kprobes), and PROCESS_THROTTLE (loss reports)',
  );
});

/** Outcome of connect() to `path` from a process with this uid/gid: 'connected' or the errno code. */
function connectAs(path: string, uid: number, gid: number): string {
  const script = "const s=require('net').connect(process.argv[1]);s.on('connect',()=>{process.stdout.write('connected');s.destroy()});s.on('error',(e)=>process.stdout.write(e.code))";
  // `env -i`: a bare Node, without the test runner's instrumentation (it writes under the repo).
  return execFileSync('/usr/bin/env', ['-i', process.execPath, '-e', script, path], { uid, gid, cwd: '/', encoding: 'utf8', timeout: 10_000 });
}

const asRoot = process.getuid?.() === 0;
t.test('socket permissions: why the overlay runs as uid 65532 with supplementary group 0', { skip: asRoot ? false : 'needs root to start processes as other users' }, async (t) => {
  const objects = render(posix.join(DEPLOY_ROOT, 'overlays', 'tetragon'));
  const security = podSpecOf(mustFind(objects, 'DaemonSet', 'driftwatch-agent'))!.securityContext!;
  t.equal(security.runAsNonRoot, true, 'the agent is not root');
  t.same(security.supplementalGroups, [0], 'it joins group 0, the group of Tetragon\u2019s socket');

  // Tetragon: ListenWithRename(path, 0660) as root, in a 0755 host directory.
  const dir = socketDir(t);
  chmodSync(dir, 0o755);
  const path = posix.join(dir, 'tetragon.sock');
  const tetragon = new FakeTetragon({ address: `unix://${path}` });
  await tetragon.start();
  t.teardown(() => tetragon.stop());
  chmodSync(path, 0o660);

  // Group membership is what connect() checks, primary or supplementary alike; a child process
  // can only be given a primary group here, which exercises the same permission bits.
  t.equal(connectAs(path, security.runAsUser!, 0), 'connected', 'uid 65532 in group 0 may connect to the 0660 root:root socket');
  t.equal(connectAs(path, security.runAsUser!, security.runAsGroup!), 'EACCES', 'without group 0 it may not (so runAsNonRoot alone would not work)');
});

t.test('socket permissions: why the falco-grpc overlay needs uid 0', { skip: asRoot ? false : 'needs root to start processes as other users' }, async (t) => {
  // Falco's gRPC server binds its unix socket with the process umask: root:root 0755.
  const dir = socketDir(t);
  chmodSync(dir, 0o755);
  const path = posix.join(dir, 'falco.sock');
  const server = new FakeTetragon({ address: `unix://${path}` });
  await server.start();
  t.teardown(() => server.stop());
  chmodSync(path, 0o755);
  t.equal(connectAs(path, 65532, 0), 'EACCES', 'group 0 is not enough: the group has no write permission');
  t.equal(connectAs(path, 0, 0), 'connected', 'the owner (uid 0) may connect');
});
