/**
 * End to end from the manifests: a collector and an agent, each started with the configuration
 * its ConfigMap and pod spec give it (overlays/tetragon), with the certificates of the manual
 * procedure in docs/install.md laid out as their Secret volumes, connect over mTLS under the
 * Service name agents dial, and a Tetragon event read from the socket reaches the store.
 *
 * What only a cluster has is moved by its mount path and nothing else: the Secret mounts, the
 * Tetragon socket directory and the data/baselines volumes become temporary directories, the
 * Service DNS name resolves to 127.0.0.1 (the TLS name check stays: `serverName`), listeners are
 * on loopback, and the Kubernetes API is off.
 */
import t from 'tap';
import type { SqliteStore } from '../../collector/store/sqlite/store.js';
import { mkdirSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { startAgent } from '../../agent/main.js';
import type { GrpcSourceConfig } from '../../agent/sources/grpc-config.js';
import { splitLengthPrefixed } from '../../agent/sources/protos.js';
import { startCollector } from '../../collector/main.js';
import { parseHostPort } from '../../common/net.js';
import { packagePath } from '../../common/paths.js';
import type { TlsConfig } from '../../common/config/schema.js';
import { socketDir, until } from '../helpers/agent-support.js';
import { FakeTetragon } from '../helpers/fake-tetragon.js';
import { render } from './kustomize.js';
import { DEPLOY_ROOT, FAKE_NODE, container, effectiveConfig, mountFor, mustFind, unixSocketPath } from './manifests.js';
import { runManualPki, secretVolume } from './pki.js';

/** `path` with the mount directory `from` replaced by `to`; throws if `path` is not under `from`. */
function remap(path: string | undefined, from: string, to: string): string {
  if (!path || !(path === from || path.startsWith(`${from}/`))) throw new Error(`${String(path)} is not under ${from}`);
  return posix.join(to, posix.relative(from, path));
}

function remapTls<T extends TlsConfig>(tls: T | undefined, from: string, to: string): T {
  if (!tls) throw new Error('no TLS configuration');
  return { ...tls, ca: remap(tls.ca, from, to), cert: remap(tls.cert, from, to), key: remap(tls.key, from, to) };
}

t.test('agent → collector over mTLS with the manifests’ configuration and the documented certificates', async (t) => {
  const objects = render(posix.join(DEPLOY_ROOT, 'overlays', 'tetragon'));
  const tmp = t.testdir();
  const { dir: pki } = runManualPki(join(tmp, 'pki'));

  // Collector, as the Deployment runs it.
  const collectorObj = mustFind(objects, 'Deployment', 'driftwatch-collector');
  const collectorC = container(collectorObj, 'collector');
  const deployedCollector = effectiveConfig(collectorObj, 'collector', objects, tmp).collector;
  const collectorTlsMount = mountFor(collectorC, deployedCollector.grpc.tls!.cert!)!.mountPath;
  const collectorTls = secretVolume(join(tmp, 'collector-tls'), { 'tls.crt': join(pki, 'collector.crt'), 'tls.key': join(pki, 'collector.key'), 'ca.crt': join(pki, 'ca.crt') });
  const data = join(tmp, 'data');
  const baselines = join(tmp, 'baselines');
  mkdirSync(data);
  mkdirSync(baselines);
  const collectorConfig = effectiveConfig(collectorObj, 'collector', objects, tmp, {
    'collector.dataDir': remap(deployedCollector.dataDir, mountFor(collectorC, deployedCollector.dataDir)!.mountPath, data),
    'collector.baselinesDir': remap(deployedCollector.baselinesDir, mountFor(collectorC, deployedCollector.baselinesDir)!.mountPath, baselines),
    'collector.grpc.tls': remapTls(deployedCollector.grpc.tls, collectorTlsMount, collectorTls),
    'collector.grpc.listen': '127.0.0.1:0',
    'collector.http.listen': '127.0.0.1:0',
  });
  t.equal(collectorConfig.collector.grpc.tls?.requireClientCert, true, 'the collector requires client certificates');
  const collector = await startCollector(collectorConfig);
  t.teardown(() => collector.close());

  // Fake Tetragon on the socket path the agent's config names, under a temporary mount directory.
  const agentObj = mustFind(objects, 'DaemonSet', 'driftwatch-agent');
  const agentC = container(agentObj, 'agent');
  const deployedAgent = effectiveConfig(agentObj, 'agent', objects, tmp).agent;
  const source = deployedAgent.sources[0] as GrpcSourceConfig;
  const socket = unixSocketPath(source.address)!;
  const tetragonDir = socketDir(t);
  const address = `unix://${remap(socket, mountFor(agentC, socket)!.mountPath, tetragonDir)}`;
  const records = splitLengthPrefixed(readFileSync(packagePath('..', 'shared', 'fixtures', 'tetragon', 'k8s_workload_exec_exit.bin')));
  const tetragon = new FakeTetragon({ address });
  await tetragon.start();
  t.teardown(() => tetragon.stop());

  // Agent, as the DaemonSet runs it, dialling the collector under the Service name.
  const serviceHost = parseHostPort(deployedAgent.collector.address).host;
  const agentTlsMount = mountFor(agentC, deployedAgent.collector.tls!.cert!)!.mountPath;
  const agentTls = secretVolume(join(tmp, 'agent-tls'), { 'tls.crt': join(pki, 'agent.crt'), 'tls.key': join(pki, 'agent.key'), 'ca.crt': join(pki, 'ca.crt') });
  const agentConfig = effectiveConfig(agentObj, 'agent', objects, tmp, {
    'agent.sources': [{ ...source, address }],
    'agent.collector.address': `127.0.0.1:${collector.grpcPort}`,
    'agent.collector.tls': { ...remapTls(deployedAgent.collector.tls, agentTlsMount, agentTls), serverName: serviceHost },
    'agent.http.listen': '127.0.0.1:0',
    'agent.kubernetes.mode': 'off',
  });
  const agent = await startAgent(agentConfig);
  t.teardown(() => agent.close());

  await until(() => agent.shipper.isConnected, 15_000, 'agent connected to the collector');
  t.pass(`mTLS stream established; the collector certificate is valid for ${serviceHost}`);
  const row = (collector.store as SqliteStore).connection.get<{ node: string }>('SELECT node FROM agents WHERE node = @node', { node: FAKE_NODE });
  t.equal(row?.node, FAKE_NODE, 'the collector registered the agent under its node name (downward API)');

  await until(() => tetragon.activeCalls > 0, 10_000, 'GetEvents stream');
  tetragon.push(records);
  await until(() => ((collector.store as SqliteStore).connection.get<{ n: number }>('SELECT COUNT(*) AS n FROM observations')?.n ?? 0) > 0, 15_000, 'observations stored');
  const stored = (collector.store as SqliteStore).connection.get<{ n: number }>('SELECT COUNT(*) AS n FROM observations o JOIN agents a ON a.instance_id = o.agent WHERE a.node = @node', { node: FAKE_NODE })!;
  t.ok(stored.n > 0, `${stored.n} observation(s) from the Tetragon socket reached the store, shipped by this node's agent`);
});
