/**
 * The OTLP logs sink against a protocol-faithful OTLP/HTTP receiver: requests decoded with the
 * OpenTelemetry protocol's own .proto files (test/helpers/otlp-proto, vendored), in both encodings;
 * and delivered exactly once per idempotency key across a receiver outage through the outbox.
 */
import t from 'tap';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { CollectorBus } from '../../../collector/events.js';
import { sampleNotification } from '../../../collector/outbox/sample.js';
import { createSink } from '../../../collector/sinks/index.js';
import { SqliteStore } from '../../../collector/store/sqlite/store.js';
import { alertingConfig, deviation, FAST, Receiver, startAlerting, until, WORKLOAD, type Received } from '../../helpers/alerting.js';
import { baseSinkConfig } from '../../contract/sink.js';

const PROTO_ROOT = join(import.meta.dirname, '..', '..', 'helpers', 'otlp-proto');
const root = new protobuf.Root();
root.resolvePath = (_origin, target) => join(PROTO_ROOT, target);
root.loadSync('opentelemetry/proto/collector/logs/v1/logs_service.proto');
const ExportLogsServiceRequest = root.lookupType('opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest');

interface AnyValue {
  stringValue?: string;
  intValue?: string;
}
interface KeyValue {
  key: string;
  value: AnyValue;
}
interface LogRecord {
  timeUnixNano: string;
  observedTimeUnixNano: string;
  severityNumber: number;
  severityText: string;
  body: AnyValue;
  attributes: KeyValue[];
  eventName: string;
}
interface ExportRequest {
  resourceLogs: { resource: { attributes: KeyValue[] }; scopeLogs: { scope: { name: string }; logRecords: LogRecord[] }[] }[];
}

function decodeProtobuf(body: Buffer): ExportRequest {
  const message = ExportLogsServiceRequest.decode(body);
  return ExportLogsServiceRequest.toObject(message, { longs: String, enums: Number, defaults: false }) as ExportRequest;
}

function attrs(kvs: readonly KeyValue[]): Record<string, string> {
  return Object.fromEntries(kvs.map((kv) => [kv.key, kv.value.stringValue ?? kv.value.intValue ?? '']));
}

function records(req: ExportRequest): { record: LogRecord; attributes: Record<string, string>; resource: Record<string, string> }[] {
  return req.resourceLogs.flatMap((rl) => rl.scopeLogs.flatMap((sl) => sl.logRecords.map((record) => ({ record, attributes: attrs(record.attributes ?? []), resource: attrs(rl.resource.attributes) }))));
}

t.test('protobuf: one record per notification, as OTLP decoders read it', async (t) => {
  const rx = new Receiver();
  await rx.start();
  t.teardown(() => rx.close());
  const sink = createSink(baseSinkConfig('otlp', { url: `${rx.url}/v1/logs` }), { now: () => Date.parse('2026-11-30T10:00:05Z'), hostname: 'collector-0', stdout: process.stdout });
  t.teardown(() => sink.close());
  const firing = sampleNotification({ cluster: 'prod-eu', baseUrl: 'https://driftwatch.example', nowMs: Date.parse('2026-11-30T10:00:00Z') });
  const resolved = { ...firing, status: 'resolved' as const, reason: 'resolved' as const, idempotencyKey: `${firing.idempotencyKey}:resolved` };
  t.same(await sink.send([firing, resolved]), { result: 'ok' });

  t.equal(rx.requests.length, 1, 'one export request for the batch');
  const req = rx.requests[0]!;
  t.equal(req.path, '/v1/logs');
  t.equal(req.headers['content-type'], 'application/x-protobuf');
  const got = records(decodeProtobuf(req.body));
  t.equal(got.length, 2);
  const [first, second] = got;
  t.equal(first!.record.timeUnixNano, String(BigInt(firing.decidedAtMs) * 1_000_000n), 'event time is the decision time, in ns');
  t.equal(first!.record.observedTimeUnixNano, String(BigInt(Date.parse('2026-11-30T10:00:05Z')) * 1_000_000n));
  t.equal(first!.record.body.stringValue, firing.summary);
  t.equal(first!.record.eventName, 'driftwatch.alert');
  t.equal(first!.record.severityText, firing.severity);
  t.ok(first!.record.severityNumber >= 9, 'a firing alert has at least INFO severity');
  t.equal(second!.record.severityNumber, 9, 'a resolved alert is INFO');
  t.match(first!.attributes, {
    'driftwatch.idempotency_key': firing.idempotencyKey,
    'driftwatch.alert_key': firing.alertKey,
    'driftwatch.status': 'firing',
    'driftwatch.severity': firing.severity,
    'k8s.namespace.name': firing.workload!.namespace,
    'k8s.container.name': firing.workload!.container,
  });
  t.equal(first!.attributes[`k8s.${firing.workload!.kind.toLowerCase()}.name`], firing.workload!.name);
  t.match(JSON.parse(first!.attributes['driftwatch.alert']!), { schema: 'driftwatch.alert.v1', idempotencyKey: firing.idempotencyKey });
  t.match(first!.resource, { 'service.name': 'driftwatch-collector', 'host.name': 'collector-0', 'k8s.cluster.name': 'prod-eu' });
});

t.test('json encoding: the OTLP/JSON form, markup inert', async (t) => {
  const rx = new Receiver();
  await rx.start();
  t.teardown(() => rx.close());
  const sink = createSink(baseSinkConfig('otlp', { url: `${rx.url}/v1/logs`, encoding: 'json' }), { now: Date.now, hostname: 'c', stdout: process.stdout });
  t.teardown(() => sink.close());
  const n = sampleNotification({ cluster: 'c', baseUrl: 'https://d.example', nowMs: Date.now() });
  const evil = { ...n, summary: 'new process /tmp/<script>alert(1)</script>' };
  t.same(await sink.send([evil]), { result: 'ok' });
  const req = rx.requests[0]!;
  t.equal(req.headers['content-type'], 'application/json');
  const text = req.body.toString('utf8');
  t.notMatch(text, /<script/);
  const body = JSON.parse(text) as { resourceLogs: { scopeLogs: { logRecords: { body: { stringValue: string } }[] }[] }[] };
  t.equal(body.resourceLogs[0]!.scopeLogs[0]!.logRecords[0]!.body.stringValue, evil.summary, 'the text itself arrives unchanged');
});

t.test('receiver down, collector keeps deciding: every alert arrives exactly once per idempotency key', async (t) => {
  const rx = new Receiver();
  await rx.start();
  t.teardown(() => rx.close());
  let up = true;
  let refused = 0;
  const accepted: Received[] = [];
  rx.respond = (req) => {
    if (!up) return refused++, 503;
    accepted.push(req);
    return 200;
  };
  const db = new SqliteStore({ dataDir: t.testdir() });
  t.teardown(() => db.close());
  const bus = new CollectorBus();
  const alerting = startAlerting(db, bus, alertingConfig({ ...FAST, sinks: [{ name: 'otel', type: 'otlp', url: `${rx.url}/v1/logs`, timeout: '2s' }] }));
  t.teardown(() => alerting.close());
  await alerting.start();

  const all = ['a', 'b', 'c', 'd'].map((name) => deviation({ workload: { ...WORKLOAD, name } }));
  bus.emit({ type: 'deviation.created', deviation: all[0]! });
  await until(() => accepted.length >= 1);
  up = false;
  for (const d of all.slice(1)) bus.emit({ type: 'deviation.created', deviation: d });
  await until(() => refused >= 3);
  up = true;
  await until(async () => (await Promise.all(all.map((d) => alerting.outbox.rows(`deviation:${d.id}`)))).every((rows) => rows.length > 0 && rows.every((r) => r.state === 'sent')));

  const keys = accepted.flatMap((r) => records(decodeProtobuf(r.body)).map((x) => x.attributes['driftwatch.idempotency_key']!));
  t.equal(new Set(keys).size, 4, 'four notifications by idempotency key');
  t.equal(keys.length, 4, 'each accepted once');
  t.ok(refused >= 3, 'after refused attempts');
});
