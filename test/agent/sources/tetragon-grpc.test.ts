/**
 * The Tetragon gRPC source against a protocol-faithful fake Tetragon serving the golden .bin
 * records byte for byte: same observations as the JSON form, over unix socket and TCP, with
 * reconnects, back-pressure, and no process observation for pre-existing processes across a
 * Tetragon restart or an agent restart.
 */
import t, { type Test } from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { normaliseTetragon, type TetragonEvent } from '../../../agent/normalise/tetragon.js';
import { sourceProtos } from '../../../agent/sources/protos.js';
import { TetragonGrpcSource } from '../../../agent/sources/tetragon-grpc.js';
import { SENSOR_RECONNECT } from '../../../agent/sources/grpc-stream.js';
import { registerLossMetrics } from '../../../agent/sources/loss-metrics.js';
import { Backoff } from '../../../common/backoff.js';
import { FakeTetragon } from '../../helpers/fake-tetragon.js';
import { binRecords, CollectingSink, comparable, fixture, fixtureFiles, jsonLines, newContext, newDeps, socketDir, until } from '../../helpers/agent-support.js';

const { tetragonRequest, tetragonResponse } = sourceProtos();
const files = fixtureFiles('tetragon', '.bin');
const allRecords = files.flatMap((f) => binRecords(fixture('tetragon', f)));
const allJson = files.flatMap((f) => jsonLines(fixture('tetragon', f.replace(/\.bin$/, '.json'))));

function expectedFromJson(): unknown[] {
  const ctx = newContext('tetragon-json');
  return comparable(allJson.map((e) => normaliseTetragon(e as TetragonEvent, ctx)).filter((r) => typeof r !== 'string'));
}


/** A fake Tetragon serving `messages`, and a started source connected to it (both torn down). */
async function serveAndConnect(t: Test, messages: Buffer[], opts: { address?: string; block?: boolean } = {}) {
  const server = new FakeTetragon({ address: opts.address ?? '127.0.0.1:0', messages });
  await server.start();
  t.teardown(() => server.stop());
  const sink = new CollectingSink();
  if (opts.block) sink.block();
  const deps = newDeps(sink);
  const source = new TetragonGrpcSource({ kind: 'tetragon-grpc', address: server.address }, deps);
  t.teardown(() => source.close());
  await source.start();
  return { server, sink, deps, source };
}

async function run(t: Test, address: string): Promise<void> {
  const { server, sink, source } = await serveAndConnect(t, allRecords, { address });
  await until(() => source.counters.seen === allRecords.length, 10_000, 'all records');
  t.ok(source.connected, 'connected');
  t.same(comparable(sink.observations), expectedFromJson(), 'observations from the binary stream equal those from the JSON lines');
  const c = source.counters;
  t.equal(c.observed + c.ignored + c.malformed, c.seen, 'every event is counted once');
  t.equal(c.malformed, 0);
  const req = tetragonRequest.decode(server.requests[0]!) as unknown as { allow_list: { event_set: number[] }[] };
  t.same(req.allow_list.map((f) => [...f.event_set]), [[1, 5, 9, 27]], 'asks for exec, exit, kprobe and throttle events only');
}


t.test('unix socket: golden records → same observations as JSON', async (t) => {
  const dir = socketDir(t);
  await run(t, `unix://${join(dir, 'tetragon.sock')}`);
});

t.test('TCP: golden records → same observations as JSON', async (t) => {
  await run(t, '127.0.0.1:0');
});

/** A copy of a golden exec/kprobe record with the process flagged procFS. */
function withProcFs(record: Buffer): Buffer {
  const msg = tetragonResponse.decode(record) as unknown as {
    process_exec?: { process: { flags: string } };
    process_kprobe?: { process: { flags: string } };
  };
  const p = msg.process_exec?.process ?? msg.process_kprobe!.process;
  p.flags = 'procFS';
  return Buffer.from(tetragonResponse.encode(msg as never).finish());
}

const tcpRecords = binRecords(fixture('tetragon', 'process_kprobe_tcp.bin'));
const execRecords = binRecords(fixture('tetragon', 'process_exec.bin'));

t.test('reconnects after Tetragon restarts; a restart announces procFS execs that never become process observations', async (t) => {
  const dir = socketDir(t);
  const address = `unix://${join(dir, 'tetragon.sock')}`;
  let server = new FakeTetragon({ address, messages: [execRecords[0]!] });
  await server.start();
  t.teardown(() => server.stop());
  const sink = new CollectingSink();
  const deps = newDeps(sink);
  const source = new TetragonGrpcSource({ kind: 'tetragon-grpc', address }, deps);
  t.teardown(() => source.close());
  await source.start();
  await sink.waitFor(1);
  t.equal(sink.observations[0]!.kind, 'process', 'a live exec is a process observation');

  await server.stop();
  await until(() => !source.connected, 10_000, 'disconnect');
  t.notOk(source.connected, 'down is visible');

  // Tetragon restarts and announces every running process (procFS), then live kprobe events.
  const procFsExecs = execRecords.slice(1, 6).map(withProcFs);
  const kprobeOfPreexisting = withProcFs(tcpRecords[0]!);
  server = new FakeTetragon({ address, messages: [...procFsExecs, kprobeOfPreexisting] });
  await server.start();
  await until(() => source.counters.seen === 1 + procFsExecs.length + 1, 15_000, 'events after the restart');
  const after = sink.observations.slice(1);
  t.equal(after.filter((o) => o.kind === 'process').length, 0, 'no process observation for pre-existing processes');
  t.equal(after.length, 1, 'the connection is still observed');
  t.match(after[0], { kind: 'network', direction: 'egress', preexisting: true });
  const metrics = await deps.registry.getSingleMetricAsString('driftwatch_source_reconnects_total');
  t.match(metrics, /driftwatch_source_reconnects_total\{source="tetragon-grpc",kind="tetragon-grpc"\} [1-9]/, 'reconnect counted');
  const events = await deps.registry.getSingleMetricAsString('driftwatch_source_events_total');
  t.match(events, /result="state"\} 5/, 'procFS execs counted as state');
});

t.test('agent restart: a fresh cache sees only later kprobe events of procFS processes → no process observation', async (t) => {
  const { sink, source } = await serveAndConnect(t, tcpRecords.map(withProcFs));
  await until(() => source.counters.seen === tcpRecords.length, 10_000, 'kprobe events');
  t.ok(sink.observations.length > 0, 'connections are observed');
  t.ok(sink.observations.every((o) => o.kind === 'network' && o.preexisting), 'only network observations, all pre-existing');
});

t.test('back-pressure: a full sink pauses the stream and loses nothing', async (t) => {
  const many: Buffer[] = [];
  for (let i = 0; i < 200; i++) many.push(execRecords[1]!);
  const { sink, source } = await serveAndConnect(t, many, { block: true });
  await until(() => sink.refused > 0, 10_000, 'a refusal');
  await new Promise((r) => setTimeout(r, 100));
  t.equal(sink.refused, 1, 'paused after the first refusal: nothing else was offered');
  t.ok(source.counters.seen < 200, 'the stream stopped reading');
  sink.release();
  await sink.waitFor(200);
  t.equal(sink.observations.length, 200, 'all delivered after release');
  t.equal(source.counters.dropped, 0, 'nothing dropped');
});

t.test('the stream ends while the sink is full: what was read still reaches the sink, nothing dropped', async (t) => {
  const many: Buffer[] = [];
  for (let i = 0; i < 200; i++) many.push(execRecords[1]!);
  const { server, sink, source } = await serveAndConnect(t, many, { block: true });
  await until(() => sink.refused > 0, 10_000, 'a refusal');
  // Tetragon goes away while the agent holds a backlog (the collector is slow or away).
  await server.stop();
  await until(() => !source.connected, 10_000, 'the stream ended');
  const read = source.counters.observed;
  t.ok(read > 0, `${read} observations read before the stream ended`);
  sink.release();
  await sink.waitFor(read);
  t.equal(sink.observations.length, read, 'every observation read was delivered');
  t.equal(source.counters.dropped, 0, 'nothing dropped');
});

t.test('a Tetragon restart: the source reconnects and counts the gap with its duration', async (t) => {
  const dir = socketDir(t);
  const address = `unix://${join(dir, 'tetragon.sock')}`;
  const { server, sink, source, deps } = await serveAndConnect(t, [execRecords[1]!], { address });
  registerLossMetrics(deps.registry, () => [source]);
  await sink.waitFor(1);
  t.equal(source.counters.sensorGaps, 0, 'the first connection is not a gap');
  await server.stop();
  await until(() => !source.connected, 10_000, 'disconnect');
  await server.start();
  await sink.waitFor(2, 15_000);
  t.ok(source.connected);
  t.equal(source.counters.sensorGaps, 1, 'one gap');
  t.ok(source.counters.sensorGapMs > 0, `lasting ${source.counters.sensorGapMs} ms`);
  const metrics = await deps.registry.metrics();
  t.match(metrics, /driftwatch_source_sensor_gaps_total\{source="tetragon-grpc",kind="tetragon-grpc"\} 1/, 'gaps exported');
  t.match(metrics, /driftwatch_source_sensor_gap_seconds_total\{source="tetragon-grpc",kind="tetragon-grpc"\} 0\.\d*[1-9]/, 'and their duration');
});

t.test('reconnect policy to the sensor: sub-second at first, capped at about a second, jittered, reset on success', async (t) => {
  const low = new Backoff({ ...SENSOR_RECONNECT, random: () => 0 });
  const high = new Backoff({ ...SENSOR_RECONNECT, random: () => 1 });
  const lows = Array.from({ length: 30 }, () => low.next());
  const highs = Array.from({ length: 30 }, () => high.next());
  t.ok(highs[0]! < 250, `first retry after ${highs[0]} ms at most`);
  t.ok(Math.max(...highs) <= 1_200, `never more than ${Math.max(...highs)} ms apart, however long the sensor is away`);
  t.ok(lows.every((d, i) => d < highs[i]!), 'jittered');
  high.reset();
  t.equal(high.next(), highs[0], 'back to the first delay after a success');
});

t.test('malformed messages on the stream are counted and skipped; the stream goes on', async (t) => {
  const { server, sink, source } = await serveAndConnect(t, [Buffer.from([0xff, 0xff, 0xff]), execRecords[1]!]);
  await sink.waitFor(1);
  t.equal(source.counters.malformed, 1);
  t.equal(server.connections, 1, 'no reconnect was needed');
});

t.test('a missing socket: start resolves, the source reports not connected, close is prompt', async (t) => {
  const dir = socketDir(t);
  const address = `unix://${join(dir, 'absent.sock')}`;
  t.notOk(existsSync(join(dir, 'absent.sock')));
  const source = new TetragonGrpcSource({ kind: 'tetragon-grpc', address }, newDeps(new CollectingSink()));
  await source.start();
  await new Promise((r) => setTimeout(r, 300));
  t.notOk(source.connected);
  await source.close();
  await source.close();
  t.pass('close is idempotent');
});

