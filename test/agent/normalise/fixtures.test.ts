/**
 * Every fixture decodes, and the binary (protobuf) form of each event gives exactly the
 * observations its JSON form gives — through the one shared mapping of each normaliser.
 */
import t from 'tap';
import { existsSync } from 'node:fs';
import { normaliseFalco, type FalcoAlert } from '../../../agent/normalise/falco.js';
import { normaliseTetragon, type TetragonEvent } from '../../../agent/normalise/tetragon.js';
import { sourceProtos } from '../../../agent/sources/protos.js';
import type { Observation } from '../../../common/model.js';
import { binRecords, comparable, fixture, fixtureFiles, jsonLines, newContext } from '../../helpers/agent-support.js';

const { tetragonResponse, falcoResponse } = sourceProtos();

t.test('tetragon: every .bin record decodes and equals its JSON line', async (t) => {
  for (const file of fixtureFiles('tetragon', '.json')) {
    const json = jsonLines(fixture('tetragon', file));
    const jsonCtx = newContext('tetragon-json');
    const fromJson = json.map((e) => normaliseTetragon(e as TetragonEvent, jsonCtx));
    t.notOk(fromJson.includes('malformed'), `${file}: no JSON line is malformed`);
    const bin = fixture('tetragon', file.replace(/\.json$/, '.bin'));
    if (!existsSync(bin)) {
      t.ok(file.startsWith('legacy_'), `${file}: only the legacy enterprise events have no .bin`);
      t.ok(fromJson.every((r) => r === 'ignored'), `${file}: unknown event types are ignored`);
      continue;
    }
    const records = binRecords(bin);
    t.equal(records.length, json.length, `${file}: one record per line`);
    const binCtx = newContext('tetragon-grpc');
    const fromBin = records.map((r) => normaliseTetragon(tetragonResponse.decode(r) as unknown as TetragonEvent, binCtx));
    t.same(comparable(fromBin), comparable(fromJson), `${file}: binary and JSON give the same observations`);
    t.same(binCtx.lineage.size, jsonCtx.lineage.size, `${file}: same lineage`);
  }
});

t.test('falco: every .bin record decodes and equals its JSON line', async (t) => {
  for (const file of fixtureFiles('falco', '.json')) {
    const json = jsonLines(fixture('falco', file));
    const records = binRecords(fixture('falco', file.replace(/\.json$/, '.bin')));
    t.equal(records.length, json.length, `${file}: one record per line`);
    const jsonCtx = newContext('falco-json');
    const binCtx = newContext('falco-grpc');
    const fromJson = json.map((e) => normaliseFalco(e as FalcoAlert, jsonCtx));
    const fromBin = records.map((r) => normaliseFalco(falcoResponse.decode(r) as unknown as FalcoAlert, binCtx));
    t.notOk(fromJson.includes('malformed'), `${file}: none malformed`);
    t.same(comparable(fromBin), comparable(fromJson), `${file}: binary and JSON give the same observations`);
  }
});

t.test('tetragon mapping details', async (t) => {
  const ctx = newContext('tetragon-json');
  const results = jsonLines(fixture('tetragon', 'process_exec.json')).map((e) => normaliseTetragon(e as TetragonEvent, ctx));
  t.notOk(results.includes('state'), 'no procFS exec in this file (only parents carry the flag)');
  const procFsParents = [...jsonLines(fixture('tetragon', 'process_exec.json'))]
    .map((e) => (e as { process_exec: { parent?: { exec_id?: string; flags?: string } } }).process_exec.parent)
    .filter((p) => p?.flags?.includes('procFS'));
  t.equal(procFsParents.length, 2);
  for (const p of procFsParents) t.equal(ctx.lineage.get(p!.exec_id!)?.procFs, true, 'a procFS parent is cached as pre-existing');
  const first = results[0] as Observation;
  t.match(first, {
    kind: 'process',
    node: 'my-node',
    pod: 'tiefighter',
    workload: { cluster: 'test', namespace: 'default', kind: 'Pod', name: 'tiefighter', container: 'spaceship' },
    identitySource: 'inferred',
    containerId: '19a02291e106ce6227b684197be232ea57c4e1a5ab2604a12608c325d701c7f4',
    image: { name: 'docker.io/tgraf/netperf:latest', digest: 'sha256:8e86f744bfea165fd4ce68caa05abc96500f40130b857773186401926af7e9e6' },
    process: { exe: '/usr/bin/netserver', args: '-D', pid: 68790, uid: 0, parentExe: '/usr/bin/containerd-shim-runc-v2', lineage: 'complete', inInitTree: true },
    preexisting: false,
  });
  t.equal(first.time, Date.parse('2022-10-18T03:16:18.273Z'), 'no event time: the exec start time, truncated to ms');
  const deathstar = results[1] as Observation;
  t.match(deathstar.workload, { kind: 'Deployment', name: 'deathstar' }, 'pod-template-hash label → Deployment');
  const host = results.find((r) => typeof r !== 'string' && r.workload.kind === 'Host') as Observation;
  t.match(host, { pod: null, containerId: null, identitySource: 'host', workload: { namespace: '', container: '' } });
  t.equal(host.workload.name, host.node, 'host identity is per node');

  const tcp = jsonLines(fixture('tetragon', 'process_kprobe_tcp.json')).map((e) => normaliseTetragon(e as TetragonEvent, newContext('tetragon-json')));
  t.match(tcp[0], {
    kind: 'network',
    direction: 'egress',
    protocol: 'tcp',
    localIp: '10.244.0.97',
    localPort: 55106,
    peerIp: '140.82.121.4',
    peerPort: 443,
    preexisting: true,
    workload: { kind: 'Pod', name: 'test-pod-debian', container: 'test-pod-debian' },
    identitySource: 'source',
    process: { exe: '/usr/bin/curl', parentExe: '/usr/bin/bash' },
  });
  t.equal(tcp[1], 'ignored', 'tcp_sendmsg is ignored');
  t.match(tcp[3], { kind: 'network', direction: 'listen', peerIp: null, peerPort: null });

  const misc = jsonLines(fixture('tetragon', 'process_kprobe_misc.json')).map((e) => normaliseTetragon(e as TetragonEvent, newContext('tetragon-json')));
  t.ok(misc.every((r) => r === 'ignored'), 'file / module / credential kprobes are ignored');
  const exits = jsonLines(fixture('tetragon', 'process_exit.json')).map((e) => normaliseTetragon(e as TetragonEvent, newContext('tetragon-json')));
  t.ok(exits.every((r) => r === 'state'), 'exits only feed lineage');
});

t.test('falco mapping details', async (t) => {
  const ctx = newContext('falco-json');
  const spawn = jsonLines(fixture('falco', 'process_spawn.json')).map((e) => normaliseFalco(e as FalcoAlert, ctx));
  t.match(spawn[0], {
    kind: 'process',
    node: 'falco-xczjd',
    pod: 'kubecon',
    containerId: 'ee97d9c4186f',
    image: { name: 'docker.io/library/alpine', digest: null },
    workload: { namespace: 'default', kind: 'Pod', name: 'kubecon' },
    process: { exe: 'sh', args: '-c clear; (bash || ash || sh)', user: 'root', parentExe: 'runc' },
    time: Date.parse('2023-05-25T13:44:05.478Z'),
  });
  t.match(spawn[1], { node: 'test-node', process: { parentExe: null }, image: { name: null } }, 'null = unknown');
  t.match(spawn[5], { workload: { kind: 'Deployment', name: 'alpine-deployment' }, identitySource: 'inferred' });
  const net = jsonLines(fixture('falco', 'network_connect.json')).map((e) => normaliseFalco(e as FalcoAlert, newContext('falco-json')));
  t.match(net[0], {
    kind: 'network',
    direction: 'egress',
    localIp: '172.17.0.9',
    localPort: 43812,
    peerIp: '10.96.0.1',
    peerPort: 443,
    preexisting: true,
    workload: { namespace: 'openfaas-fn', kind: 'Deployment', name: 'falco-pod-delete' },
  });
  t.match(net[1], { workload: { kind: 'Deployment', name: 'poolmgr-go-default-516098' } });
  const other = ['file_access.json', 'plugin_k8saudit.json'].flatMap((f) =>
    jsonLines(fixture('falco', f)).map((e) => normaliseFalco(e as FalcoAlert, newContext('falco-json'))),
  );
  t.ok(other.every((r) => r === 'ignored'), 'file opens and k8s_audit are ignored');
  const internal = jsonLines(fixture('falco', 'internal.json')).map((e) => normaliseFalco(e as FalcoAlert, newContext('falco-json')));
  t.same(internal, ['state'], "Falco's metrics snapshot is read for its loss counters (sensor-loss.ts), never an observation");
});

t.test('accept hooks (no public recording exists: derived from the tcp_connect recording)', async (t) => {
  type Kp = { process_kprobe: { function_name: string; args: unknown[]; return?: unknown } };
  const json = jsonLines(fixture('tetragon', 'process_kprobe_tcp.json'))[2] as Kp;
  const bin = tetragonResponse.decode(binRecords(fixture('tetragon', 'process_kprobe_tcp.bin'))[2]!) as unknown as Kp;
  for (const ev of [json, bin]) {
    ev.process_kprobe.function_name = 'inet_csk_accept';
    ev.process_kprobe.return = ev.process_kprobe.args[0];
    ev.process_kprobe.args = [];
  }
  const reencoded = tetragonResponse.decode(tetragonResponse.encode(bin as never).finish()) as unknown as TetragonEvent;
  const fromJson = normaliseTetragon(json as unknown as TetragonEvent, newContext('tetragon-json'));
  const fromBin = normaliseTetragon(reencoded, newContext('tetragon-grpc'));
  t.match(fromJson, { kind: 'network', direction: 'ingress', protocol: 'tcp' }, 'inet_csk_accept return.sock_arg → ingress');
  const sock = (jsonLines(fixture('tetragon', 'process_kprobe_tcp.json'))[2] as { process_kprobe: { args: { sock_arg: { saddr: string; sport: number; daddr: string; dport: number } }[] } })
    .process_kprobe.args[0]!.sock_arg;
  t.match(fromJson, { localIp: sock.saddr, localPort: sock.sport, peerIp: sock.daddr, peerPort: sock.dport }, 'saddr:sport local, daddr:dport = the client');
  t.same(comparable([fromBin]), comparable([fromJson]), 'binary and JSON agree');

  const setState = jsonLines(fixture('tetragon', 'process_kprobe_tcp.json'))[2] as { process_kprobe: { function_name: string; args: { sock_arg?: { state?: string }; int_arg?: number }[] } };
  setState.process_kprobe.function_name = 'tcp_set_state';
  setState.process_kprobe.args[0]!.sock_arg!.state = 'TCP_SYN_RECV';
  setState.process_kprobe.args.push({ int_arg: 1 });
  t.match(normaliseTetragon(setState as unknown as TetragonEvent, newContext('tetragon-json')), { direction: 'ingress' }, 'tcp-accept policy: SYN_RECV → ESTABLISHED is inbound');
  setState.process_kprobe.args[0]!.sock_arg!.state = 'TCP_SYN_SENT';
  t.equal(normaliseTetragon(setState as unknown as TetragonEvent, newContext('tetragon-json')), 'ignored', 'an outbound handshake completing is not');
});

t.test('an exec whose in-container parent was never seen marks its container pre-existing (agent restart)', async (t) => {
  type Ev = { process_exec?: { process: { pod?: { container?: { id?: string } } }; parent?: { pod?: { container?: { id?: string } } } } };
  const lines = jsonLines(fixture('tetragon', 'k8s_workload_exec_exit.json')) as Ev[];
  const inContainerParent = lines.find((e) => e.process_exec?.parent?.pod?.container?.id && e.process_exec.parent.pod.container.id === e.process_exec.process.pod?.container?.id);
  t.ok(inContainerParent, 'the recordings have one');
  const obs = normaliseTetragon(inContainerParent as TetragonEvent, newContext('tetragon-json'));
  t.match(obs, { kind: 'process', preexisting: true }, 'still a process observation (a new exec), in a container with a partial history');
});
