/**
 * Sources benchmark: events per second from bytes to observations, each beside the bare decode
 * of the same bytes measured in the same run (ratios, not absolutes, are comparable):
 * - Tetragon: GetEventsResponse protobuf (the golden .bin records: execs, exits, kprobes
 *   incl. tcp_connect/listen) → decode + normalise (lineage, identity) vs bare `Type.decode`;
 * - Falco: JSON alert bytes → JSON.parse + normalise vs bare `JSON.parse` (the recorded alerts,
 *   and alerts shaped like driftwatch-rules.yaml's, ~30 output fields).
 * Plus the process's resident memory after the runs.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { IdentityResolver } from '../agent/identity/resolver.js';
import { LineageCache } from '../agent/lineage/cache.js';
import type { NormaliseContext } from '../agent/normalise/context.js';
import { normaliseFalco, type FalcoAlert } from '../agent/normalise/falco.js';
import { normaliseTetragon, type TetragonEvent } from '../agent/normalise/tetragon.js';
import { sourceProtos, splitLengthPrefixed } from '../agent/sources/protos.js';
import type { SourceKind } from '../common/model.js';
import { packagePath } from '../common/paths.js';

const ROUND_MS = 400;
const ROUNDS = 7;

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
    lineage: new LineageCache({ maxProcesses: 65_536 }),
    identity: new IdentityResolver(null),
  };
}

/** Items/s of `fn` over `inputs`, median of ROUNDS rounds; the two contenders alternate. */
function rate<T>(inputs: T[], fn: (x: T) => unknown): () => number {
  return () => {
    let n = 0;
    let sink = 0;
    const start = performance.now();
    let now = start;
    while (now - start < ROUND_MS) {
      for (let i = 0; i < inputs.length; i++) if (fn(inputs[i]!) !== undefined) sink++;
      n += inputs.length;
      now = performance.now();
    }
    if (sink < 0) throw new Error('unreachable');
    return (n * 1000) / (now - start);
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
  const median = (xs: number[]): number => xs.sort((x, y) => x - y)[xs.length >> 1]!;
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

  // Resident memory as the agent would hold it: without the garbage the runs left (when the
  // process runs with --expose-gc).
  (globalThis as { gc?: () => void }).gc?.();
  const mem = process.memoryUsage();
  return {
    tetragon_protobuf_all_fixtures: { messages: tetragonRecords.length, avgBytes: avg(tetragonRecords), ...tetragon },
    tetragon_protobuf_exec_and_tcp: { messages: hot.length, avgBytes: avg(hot), ...tetragonHot },
    falco_json_recorded: { alerts: falcoRecorded.length, avgBytes: avg(falcoRecorded), ...falco },
    falco_json_driftwatch_rules: { alerts: ruleAlerts.length, avgBytes: avg(ruleAlerts), ...falcoRules },
    lineageProcesses: tctx.lineage.size + hctx.lineage.size + fctx.lineage.size + rctx.lineage.size,
    rssMiB: Math.round((mem.rss / 2 ** 20) * 10) / 10,
    heapUsedMiB: Math.round((mem.heapUsed / 2 ** 20) * 10) / 10,
  };
}

function avg(bufs: Buffer[]): number {
  return Math.round(bufs.reduce((s, b) => s + b.length, 0) / Math.max(1, bufs.length));
}
