/**
 * Hostile input for every source: events whose attacker-controlled text is oversized (arguments,
 * executable and parent paths, ancestors' arguments, pod / namespace / container names, user
 * names, peer names, multi-byte text) and events that are malformed, each with what must become of
 * it. Tetragon events are written as protojson (the JSON export) and converted for the gRPC wire;
 * Falco alerts as the JSON http_output posts and converted for the legacy gRPC output.
 */
import { sourceProtos } from '../../agent/sources/protos.js';
import type { RejectReason } from '../../common/model.js';

/** What one input must become. */
export type Expect = { observation: 'process' | 'network'; truncated: boolean } | { rejected: RejectReason } | { consumed: true };

export interface Case {
  what: string;
  input: Record<string, unknown>;
  expect: Expect;
}

export const T0 = Date.parse('2026-11-30T10:00:00Z');
const iso = (ms: number): string => new Date(ms).toISOString();
const long = (n: number, unit = 'A'): string => unit.repeat(Math.ceil(n / unit.length)).slice(0, n);

// ---- Tetragon ----

let nextPid = 5000;

function tgProcess(over: Record<string, unknown> = {}): Record<string, unknown> {
  const pid = nextPid++;
  return {
    exec_id: Buffer.from(`node-f:${pid}:${pid}`).toString('base64'),
    pid,
    uid: 1000,
    cwd: '/',
    binary: '/usr/bin/tool',
    arguments: '--flag',
    flags: 'execve clone',
    start_time: iso(T0),
    pod: {
      namespace: 'shop',
      name: 'web-7d4b9c8f6d-abcde',
      container: { id: `containerd://${'c'.repeat(64)}`, name: 'main', image: { id: `docker.io/shop/web@sha256:${'1'.repeat(64)}`, name: 'docker.io/shop/web:1' }, start_time: iso(T0 - 3_600_000), pid: 7 },
      workload: 'web',
      workload_kind: 'Deployment',
    },
    docker: 'c'.repeat(31),
    parent_exec_id: Buffer.from('node-f:1:1').toString('base64'),
    in_init_tree: true,
    ...over,
  };
}

const parent = { exec_id: Buffer.from('node-f:1:1').toString('base64'), pid: 1, binary: '/usr/bin/containerd-shim-runc-v2', flags: 'execve' };

function tgExec(process: Record<string, unknown>, i: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { process_exec: { process, parent, ...extra }, node_name: 'node-f', time: iso(T0 + i) };
}

function tgConnect(process: Record<string, unknown>, i: number): Record<string, unknown> {
  return {
    process_kprobe: {
      process,
      parent,
      function_name: 'tcp_connect',
      args: [{ sock_arg: { family: 'AF_INET', type: 'SOCK_STREAM', protocol: 'IPPROTO_TCP', saddr: '10.244.1.5', daddr: '203.0.113.9', sport: 40000, dport: 443, cookie: '1234' } }],
      action: 'KPROBE_ACTION_POST',
    },
    node_name: 'node-f',
    time: iso(T0 + i),
  };
}

export function tetragonCases(): Case[] {
  const bigArgs = tgProcess({ binary: '/usr/bin/evil-args', arguments: long(20_000) });
  const bigPod = { ...(tgProcess().pod as Record<string, unknown>), name: long(1000, 'p'), namespace: long(300, 'n') };
  const shellWithHugeArgs = tgProcess({ binary: '/bin/sh', arguments: `-c ${long(30_000, 'x')}` });
  const child = tgProcess({ binary: '/usr/bin/child', arguments: 'ok', parent_exec_id: shellWithHugeArgs.exec_id });
  return [
    { what: 'an exec with 20,000 characters of arguments', input: tgExec(bigArgs, 1), expect: { observation: 'process', truncated: true } },
    { what: 'a connection of that process (its record was cut)', input: tgConnect(bigArgs, 2), expect: { observation: 'network', truncated: true } },
    { what: 'an exec with a 5,000-character exe path', input: tgExec(tgProcess({ binary: `/${long(4999, 'b')}` }), 3), expect: { observation: 'process', truncated: true } },
    { what: '20,000 characters of emoji arguments (surrogate pairs)', input: tgExec(tgProcess({ binary: '/usr/bin/emoji', arguments: long(20_000, '😀') }), 4), expect: { observation: 'process', truncated: true } },
    { what: 'pod and namespace names beyond Kubernetes limits', input: tgExec(tgProcess({ binary: '/usr/bin/podname', pod: bigPod }), 5), expect: { observation: 'process', truncated: true } },
    { what: 'a 5,000-character user name', input: tgExec(tgProcess({ binary: '/usr/bin/user', user: { name: long(5000, 'u') } }), 6), expect: { observation: 'process', truncated: true } },
    { what: 'an exec of a shell with 30,000 characters of arguments', input: tgExec(shellWithHugeArgs, 7), expect: { observation: 'process', truncated: true } },
    { what: "its child: the ancestor's arguments were cut", input: tgExec(child, 8), expect: { observation: 'process', truncated: true } },
    { what: 'an ordinary exec', input: tgExec(tgProcess({ binary: '/usr/bin/plain' }), 9), expect: { observation: 'process', truncated: false } },
    { what: 'an exec without binary', input: tgExec(tgProcess({ binary: '' }), 10), expect: { rejected: 'missing-process' } },
    { what: 'an exit without exec id', input: { process_exit: { process: { pid: 3, binary: '/x' } }, node_name: 'node-f', time: iso(T0 + 11) }, expect: { rejected: 'missing-exec-id' } },
    { what: 'a tcp_connect without socket', input: { ...tgConnect(tgProcess(), 12), process_kprobe: { process: tgProcess(), function_name: 'tcp_connect', args: [] } }, expect: { rejected: 'missing-socket' } },
    { what: 'a kprobe without process', input: { process_kprobe: { function_name: 'tcp_connect' }, node_name: 'node-f', time: iso(T0 + 13) }, expect: { rejected: 'missing-process' } },
    { what: 'an empty response', input: {}, expect: { rejected: 'not-an-event' } },
  ];
}

/** Wrapper and Timestamp fields as protobufjs wants them (protojson writes bare values). */
const WRAPPED = new Set(['pid', 'uid', 'auid', 'tid', 'in_init_tree']);
const TIMESTAMPS = new Set(['time', 'start_time']);

function toProtobufObject(v: unknown, key = ''): unknown {
  if (Array.isArray(v)) return v.map((x) => toProtobufObject(x));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toProtobufObject(x, k)]));
  if (WRAPPED.has(key) && (typeof v === 'number' || typeof v === 'boolean')) return { value: v };
  if (TIMESTAMPS.has(key) && typeof v === 'string') {
    const ms = Date.parse(v);
    return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
  }
  return v;
}

export function tetragonBytes(event: Record<string, unknown>): Buffer {
  const { tetragonResponse } = sourceProtos();
  return Buffer.from(tetragonResponse.encode(tetragonResponse.fromObject(toProtobufObject(event) as Record<string, unknown>)).finish());
}

// ---- Falco ----

function falcoFields(over: Record<string, unknown>): Record<string, unknown> {
  return {
    'evt.type': 'execve',
    'proc.exepath': '/usr/bin/tool',
    'proc.args': '--flag',
    'proc.pid': nextPid++,
    'proc.ppid': 1,
    'proc.pexepath': '/usr/bin/containerd-shim-runc-v2',
    'user.uid': 1000,
    'user.name': 'app',
    'container.id': 'c'.repeat(12),
    'container.name': 'main',
    'container.image.repository': 'docker.io/shop/web',
    'container.image.tag': '1',
    'k8s.ns.name': 'shop',
    'k8s.pod.name': 'web-7d4b9c8f6d-abcde',
    ...over,
  };
}

function falcoAlert(fields: Record<string, unknown>, i: number, over: Record<string, unknown> = {}): Record<string, unknown> {
  return { hostname: 'node-f', output: 'driftwatch', output_fields: fields, priority: 'Notice', rule: 'driftwatch spawn', source: 'syscall', tags: [], time: iso(T0 + i), ...over };
}

export function falcoCases(): Case[] {
  return [
    { what: 'an exec with 20,000 characters of arguments', input: falcoAlert(falcoFields({ 'proc.exepath': '/usr/bin/evil-args', 'proc.args': long(20_000) }), 1), expect: { observation: 'process', truncated: true } },
    { what: 'an exec with a 5,000-character exe path', input: falcoAlert(falcoFields({ 'proc.exepath': `/${long(4999, 'b')}` }), 2), expect: { observation: 'process', truncated: true } },
    { what: 'a 10,000-character parent path', input: falcoAlert(falcoFields({ 'proc.exepath': '/usr/bin/pexe', 'proc.pexepath': `/${long(9999, 'q')}` }), 3), expect: { observation: 'process', truncated: true } },
    { what: 'a 5,000-character user name', input: falcoAlert(falcoFields({ 'proc.exepath': '/usr/bin/user', 'user.name': long(5000, 'u') }), 4), expect: { observation: 'process', truncated: true } },
    { what: 'pod and namespace names beyond Kubernetes limits', input: falcoAlert(falcoFields({ 'proc.exepath': '/usr/bin/podname', 'k8s.pod.name': long(1000, 'p'), 'k8s.ns.name': long(300, 'n') }), 5), expect: { observation: 'process', truncated: true } },
    {
      what: 'a connection to a 2,000-character peer name',
      input: falcoAlert(falcoFields({ 'evt.type': 'connect', 'proc.exepath': '/usr/bin/curl', 'fd.l4proto': 'tcp', 'fd.cip': '10.244.1.5', 'fd.cport': 40000, 'fd.sip': '203.0.113.9', 'fd.sport': 443, 'fd.sip.name': long(2000, 'd') }), 6),
      expect: { observation: 'network', truncated: true },
    },
    { what: '20,000 characters of emoji arguments (surrogate pairs)', input: falcoAlert(falcoFields({ 'proc.exepath': '/usr/bin/emoji', 'proc.args': long(20_000, '😀') }), 7), expect: { observation: 'process', truncated: true } },
    { what: 'an ordinary exec', input: falcoAlert(falcoFields({ 'proc.exepath': '/usr/bin/plain' }), 8), expect: { observation: 'process', truncated: false } },
    { what: 'an alert without output_fields', input: { rule: 'x', output: 'y', source: 'syscall', time: iso(T0 + 9) }, expect: { rejected: 'missing-fields' } },
    { what: 'an exec without any process field', input: falcoAlert({ 'evt.type': 'execve' }, 10), expect: { rejected: 'missing-process' } },
  ];
}

export function falcoBytes(alert: Record<string, unknown>): Buffer {
  const { falcoResponse } = sourceProtos();
  const fields = Object.fromEntries(Object.entries((alert.output_fields as Record<string, unknown> | undefined) ?? {}).map(([k, v]) => [k, v === null ? '<NA>' : String(v)]));
  const ms = Date.parse(String(alert.time));
  const msg = { ...alert, output_fields: fields, time: { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 }, priority: 5 };
  return Buffer.from(falcoResponse.encode(falcoResponse.fromObject(msg)).finish());
}
