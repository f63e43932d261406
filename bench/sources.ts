/**
 * Sources benchmark: events per second from bytes to observations, each beside the bare decode
 * of the same bytes measured in the same run (ratios, not absolutes, are comparable):
 * - Tetragon: GetEventsResponse protobuf (the golden .bin records: execs, exits, kprobes
 *   incl. tcp_connect/listen) → decode + normalise (lineage, identity) vs bare `Type.decode`;
 * - Falco: JSON alert bytes → JSON.parse + normalise vs bare `JSON.parse` (the recorded alerts,
 *   and alerts shaped like driftwatch-rules.yaml's, ~30 output fields).
 * End to end, in one process (server and agent share the CPU, so compare the ratio):
 * - Tetragon over a unix socket: GetEvents stream → TetragonGrpcSource → sink, vs a bare
 *   grpc-js client that only counts the raw messages of the same stream;
 * - Falco HTTP: one keep-alive connection POSTing alerts (as Falco does) to FalcoHttpSource, vs
 *   a bare node:http server that answers 204 without reading the JSON.
 * Plus the process's resident memory after the runs.
 */
import * as grpc from '@grpc/grpc-js';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { silentLogger } from '../common/logger.js';
import type { Observation } from '../common/model.js';
import { FalcoHttpSource } from '../agent/sources/falco-http.js';
import { rawService } from '../agent/sources/grpc-stream.js';
import type { SourceDeps } from '../agent/sources/runtime.js';
import { TetragonGrpcSource } from '../agent/sources/tetragon-grpc.js';
import { IdentityResolver } from '../agent/identity/resolver.js';
import { createLineage } from '../agent/sources/index.js';
import { loadConfig } from '../cli/config.js';
import type { NormaliseContext } from '../agent/normalise/context.js';
import { normaliseFalco, type FalcoAlert } from '../agent/normalise/falco.js';
import { normaliseTetragon, type TetragonEvent } from '../agent/normalise/tetragon.js';
import { sourceProtos, splitLengthPrefixed } from '../agent/sources/protos.js';
import type { SourceKind } from '../common/model.js';
import { packagePath } from '../common/paths.js';
import { ROUNDS, median, rate } from './measure.js';

/** The agent's shipped settings (lineage bounds): what users run. */
const SHIPPED_AGENT = loadConfig({ env: {} }).agent;

function fixtures(dir: string, ext: string): string[] {
  const base = packagePath('..', 'shared', 'fixtures', dir);
  return readdirSync(base)
    .filter((f) => f.endsWith(ext))
    .sort()
    .map((f) => `${base}/${f}`);
}

function context(source: SourceKind): NormaliseContext {
  return {
    source,
    cluster: 'bench',
    node: 'bench-node',
    lineage: createLineage(SHIPPED_AGENT),
    identity: new IdentityResolver(null),
  };
}

function compare(pipeline: () => number, bare: () => number): { pipelinePerSec: number; barePerSec: number; ratio: number } {
  const p: number[] = [];
  const b: number[] = [];
  pipeline();
  bare(); // warm-up (JIT)
  for (let i = 0; i < ROUNDS; i++) {
    p.push(pipeline());
    b.push(bare());
  }
  const pipelinePerSec = Math.round(median(p));
  const barePerSec = Math.round(median(b));
  return { pipelinePerSec, barePerSec, ratio: Math.round((pipelinePerSec / barePerSec) * 100) / 100 };
}

function driftwatchRuleAlert(i: number): Buffer {
  const alert = {
    hostname: 'node-a',
    output: `12:00:00.000000000: Informational driftwatch connect evt.type=connect proc.exepath=/usr/bin/curl … ${i}`,
    output_fields: {
      'evt.time': 1767312000000000000 + i,
      'evt.type': i % 2 ? 'connect' : 'execve',
      'proc.exepath': '/usr/bin/curl',
      'proc.exe': 'curl',
      'proc.name': 'curl',
      'proc.args': `-s https://api.example.com/v1/items/${i % 50}`,
      'proc.cmdline': `curl -s https://api.example.com/v1/items/${i % 50}`,
      'proc.pid': 40_000 + (i % 500),
      'proc.vpid': 17,
      'proc.ppid': 39_000,
      'proc.pexepath': '/bin/sh',
      'proc.pname': 'sh',
      'user.uid': 1000,
      'user.name': 'app',
      'fd.name': i % 2 ? `10.244.1.7:${40000 + (i % 2000)}->10.96.0.10:443` : null,
      'fd.l4proto': i % 2 ? 'tcp' : null,
      'fd.sip': i % 2 ? '10.96.0.10' : null,
      'fd.sport': i % 2 ? 443 : null,
      'fd.cip': i % 2 ? '10.244.1.7' : null,
      'fd.cport': i % 2 ? 40000 + (i % 2000) : null,
      'fd.sip.name': null,
      'fd.cip.name': null,
      'fd.is_server': i % 2 ? false : null,
      'container.id': '0123456789ab',
      'container.name': 'web',
      'container.image.repository': 'ghcr.io/acme/web',
      'container.image.tag': '1.2.3',
      'container.image.digest': 'sha256:0f3a',
      'k8s.ns.name': 'shop',
      'k8s.pod.name': 'web-5d78c9869d-2xk7p',
      'k8s.pod.labels': 'app:web,pod-template-hash:5d78c9869d',
    },
    priority: 'Informational',
    rule: i % 2 ? 'driftwatch outbound tcp connection from container' : 'driftwatch process spawned in container',
    source: 'syscall',
    tags: ['driftwatch'],
    time: '2026-01-02T00:00:00.123456789Z',
  };
  return Buffer.from(JSON.stringify(alert));
}

export async function benchSources(): Promise<Record<string, unknown>> {
  const { tetragonResponse } = sourceProtos();

  const tetragonRecords = fixtures('tetragon', '.bin').flatMap((f) => splitLengthPrefixed(readFileSync(f)));
  const tctx = context('tetragon-grpc');
  const tetragon = compare(
    rate(tetragonRecords, (b) => normaliseTetragon(tetragonResponse.decode(b) as unknown as TetragonEvent, tctx)),
    rate(tetragonRecords, (b) => tetragonResponse.decode(b)),
  );

  // The hot mix on a real node: execs and tcp_connect/listen only (what becomes observations).
  const hot = tetragonRecords.filter((b) => {
    const m = tetragonResponse.decode(b) as unknown as TetragonEvent;
    return m.process_exec || (m.process_kprobe && ['tcp_connect', 'inet_csk_listen_start'].includes(m.process_kprobe.function_name ?? ''));
  });
  const hctx = context('tetragon-grpc');
  const tetragonHot = compare(
    rate(hot, (b) => normaliseTetragon(tetragonResponse.decode(b) as unknown as TetragonEvent, hctx)),
    rate(hot, (b) => tetragonResponse.decode(b)),
  );

  const falcoRecorded = fixtures('falco', '.json').flatMap((f) =>
    readFileSync(f, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => Buffer.from(l)),
  );
  const fctx = context('falco-http');
  const falco = compare(
    rate(falcoRecorded, (b) => normaliseFalco(JSON.parse(b.toString('utf8')) as FalcoAlert, fctx)),
    rate(falcoRecorded, (b) => JSON.parse(b.toString('utf8')) as unknown),
  );
  const ruleAlerts = Array.from({ length: 1000 }, (_, i) => driftwatchRuleAlert(i));
  const rctx = context('falco-http');
  const falcoRules = compare(
    rate(ruleAlerts, (b) => normaliseFalco(JSON.parse(b.toString('utf8')) as FalcoAlert, rctx)),
    rate(ruleAlerts, (b) => JSON.parse(b.toString('utf8')) as unknown),
  );

  const tetragonStream = await streamEndToEnd(hot, 30_000);
  const falcoHttp = await httpEndToEnd(ruleAlerts.slice(0, 200), 6_000);

  // Resident memory as the agent would hold it: without the garbage the runs left (when the
  // process runs with --expose-gc).
  (globalThis as { gc?: () => void }).gc?.();
  const mem = process.memoryUsage();
  return {
    tetragon_protobuf_all_fixtures: { messages: tetragonRecords.length, avgBytes: avg(tetragonRecords), ...tetragon },
    tetragon_protobuf_exec_and_tcp: { messages: hot.length, avgBytes: avg(hot), ...tetragonHot },
    falco_json_recorded: { alerts: falcoRecorded.length, avgBytes: avg(falcoRecorded), ...falco },
    falco_json_driftwatch_rules: { alerts: ruleAlerts.length, avgBytes: avg(ruleAlerts), ...falcoRules },
    tetragon_grpc_unix_end_to_end: tetragonStream,
    falco_http_keepalive_end_to_end: falcoHttp,
    lineageProcesses: tctx.lineage.size + hctx.lineage.size + fctx.lineage.size + rctx.lineage.size,
    rssMiB: Math.round((mem.rss / 2 ** 20) * 10) / 10,
    heapUsedMiB: Math.round((mem.heapUsed / 2 ** 20) * 10) / 10,
  };
}

function avg(bufs: Buffer[]): number {
  return Math.round(bufs.reduce((s, b) => s + b.length, 0) / Math.max(1, bufs.length));
}

function deps(sink: SourceDeps['sink']): SourceDeps {
  return { node: 'bench-node', cluster: 'bench', logger: silentLogger(), registry: new Registry(), sink, lineage: createLineage(SHIPPED_AGENT), identity: new IdentityResolver(null) };
}

/** A GetEvents server writing `total` messages (cycling `records`) to each call. */
async function tetragonServer(address: string, records: Buffer[], total: number): Promise<grpc.Server> {
  const server = new grpc.Server();
  server.addService(rawService({ GetEvents: { path: '/tetragon.FineGuidanceSensors/GetEvents', requestStream: false } }), {
    GetEvents: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      let i = 0;
      const pump = (): void => {
        while (i < total) {
          if (!call.write(records[i++ % records.length])) return void call.once('drain', pump);
        }
      };
      pump();
    },
  });
  await new Promise<void>((resolve, reject) => server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())));
  return server;
}

async function streamEndToEnd(records: Buffer[], total: number): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'dw-bench-'));
  const address = `unix://${join(dir, 'tetragon.sock')}`;
  const server = await tetragonServer(address, records, total);
  try {
    // Bare: a raw-bytes client that only counts.
    const Client = grpc.makeGenericClientConstructor(rawService({ GetEvents: { path: '/tetragon.FineGuidanceSensors/GetEvents', requestStream: false } }), 'bench');
    const client = new Client(address, grpc.credentials.createInsecure());
    const bareStart = performance.now();
    await new Promise<void>((resolve) => {
      let n = 0;
      const call = (client as unknown as { GetEvents(b: Buffer): grpc.ClientReadableStream<Buffer> }).GetEvents(Buffer.alloc(0));
      call.on('error', () => {}); // our own cancel
      call.on('data', () => {
        if (++n === total) {
          call.cancel();
          resolve();
        }
      });
    });
    const bareMs = performance.now() - bareStart;
    client.close();

    let observed = 0;
    const sink = { offer: (_: Observation) => (observed++, true), waitForCapacity: () => Promise.resolve() };
    const source = new TetragonGrpcSource({ kind: 'tetragon-grpc', address }, deps(sink));
    const start = performance.now();
    await source.start();
    while (source.counters.seen < total) await new Promise((r) => setImmediate(r));
    const ms = performance.now() - start;
    await source.close();
    return {
      messages: total,
      observations: observed,
      pipelinePerSec: Math.round((total * 1000) / ms),
      bareStreamPerSec: Math.round((total * 1000) / bareMs),
      ratio: Math.round((bareMs / ms) * 100) / 100,
    };
  } finally {
    server.forceShutdown();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** POSTs `total` alerts one after the other over one keep-alive connection; returns req/s. */
async function postAll(port: number, alerts: Buffer[], total: number): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const body = alerts[i % alerts.length]!;
    await new Promise<void>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, method: 'POST', path: '/', agent, headers: { 'content-type': 'application/json', 'content-length': String(body.length) } },
        (res) => {
          res.resume();
          res.on('end', resolve);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }
  const ms = performance.now() - start;
  agent.destroy();
  return (total * 1000) / ms;
}

async function httpEndToEnd(alerts: Buffer[], total: number): Promise<Record<string, number>> {
  const bare = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(204);
      res.end();
    });
  });
  await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', resolve));
  const barePort = (bare.address() as AddressInfo).port;
  let observed = 0;
  const sink = { offer: (_: Observation) => (observed++, true), waitForCapacity: () => Promise.resolve() };
  const source = new FalcoHttpSource({ kind: 'falco-http', listen: '127.0.0.1:0' }, deps(sink));
  await source.start();
  // Warm-up, then alternating rounds (this machine's noise hits both alike); medians.
  await postAll(barePort, alerts, 500);
  await postAll(source.port, alerts, 500);
  const perRound = Math.ceil(total / ROUNDS);
  const b: number[] = [];
  const p: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    b.push(await postAll(barePort, alerts, perRound));
    p.push(await postAll(source.port, alerts, perRound));
  }
  await source.close();
  await new Promise<void>((resolve) => {
    bare.close(() => resolve());
    bare.closeAllConnections();
  });
  const pipelinePerSec = median(p);
  const barePerSec = median(b);
  return { requests: perRound * ROUNDS, observations: observed - 500, pipelinePerSec: Math.round(pipelinePerSec), barePerSec: Math.round(barePerSec), ratio: Math.round((pipelinePerSec / barePerSec) * 100) / 100 };
}
