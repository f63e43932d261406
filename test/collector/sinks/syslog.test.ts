/**
 * The syslog sink against the real rsyslog (Debian `rsyslog`, imtcp with octet-counted framing):
 * what rsyslog parsed out of our RFC 5424 messages, hostile text kept inside one message, and every
 * alert delivered once per idempotency key across a receiver outage (stopped and restarted).
 */
import t from 'tap';
import { CollectorBus } from '../../../collector/events.js';
import { sampleNotification } from '../../../collector/outbox/sample.js';
import { createSink } from '../../../collector/sinks/index.js';
import { frame, toSyslogMessage } from '../../../collector/sinks/syslog.js';
import { SqliteStore } from '../../../collector/store/sqlite/store.js';
import { alertingConfig, deviation, FAST, startAlerting, until, WORKLOAD } from '../../helpers/alerting.js';
import { baseSinkConfig } from '../../contract/sink.js';
import { freePort } from '../../helpers/processes.js';
import { installed, Rsyslog } from '../../helpers/rsyslog.js';

const FORMAT = { facility: 'local0' as const, appName: 'driftwatch', structuredDataId: 'driftwatch@32473', hostname: 'collector-0' };

t.test('RFC 5424 shape, octet counting in bytes, structured data escaped', async (t) => {
  const n = { ...sampleNotification({ cluster: 'c', baseUrl: 'https://d.example', nowMs: Date.parse('2026-11-30T10:00:00Z') }), alertKey: 'deviation:"7"]\\' };
  const msg = toSyslogMessage(n, FORMAT);
  t.match(msg, /^<\d+>1 2026-11-30T10:00:00(\.000)?Z collector-0 driftwatch - deviation \[driftwatch@32473 /);
  t.match(msg, 'alertKey="deviation:\\"7\\"\\]\\\\"', 'quote, bracket and backslash escaped');
  const framed = frame('é\n<1>1 forged');
  t.equal(framed.toString('utf8'), `${Buffer.byteLength('é\n<1>1 forged')} é\n<1>1 forged`, 'length counts bytes; a newline cannot start a message');
});

t.test('real rsyslog', { skip: installed ? false : 'rsyslogd is not installed (Debian package rsyslog)' }, async (t) => {
  const port = await freePort();
  const rsyslog = new Rsyslog(t.testdir(), port);
  await rsyslog.start();
  t.teardown(() => rsyslog.stop());

  await t.test('rsyslog parses every field; hostile text stays inside its message', async (t) => {
    const sink = createSink(baseSinkConfig('syslog', { address: `127.0.0.1:${port}`, protocol: 'tcp' }), { now: Date.now, hostname: 'collector-0', stdout: process.stdout });
    const n = sampleNotification({ cluster: 'prod', baseUrl: 'https://d.example', nowMs: Date.now() });
    const evil = { ...n, idempotencyKey: `${n.idempotencyKey}-evil`, summary: 'x\n<13>1 2026-01-01T00:00:00Z forged app - - - injected <script>' };
    t.same(await sink.send([n, evil]), { result: 'ok' });
    await sink.close();
    await until(() => rsyslog.received().length >= 2);
    const got = rsyslog.received();
    t.equal(got.length, 2, 'two messages, no forged third');
    const syslogSeverity = { critical: 2, high: 3, medium: 4, low: 5, info: 6 }[n.severity];
    t.equal(got[0]!.pri, 16 * 8 + syslogSeverity, 'facility local0, the alert severity as syslog severity');
    t.equal(got[0]!.hostname, 'collector-0');
    t.equal(got[0]!.appName, 'driftwatch');
    t.equal(got[0]!.msgid, 'deviation');
    t.match(got[0]!.structuredData, `idempotencyKey="${n.idempotencyKey}"`);
    t.match(JSON.parse(got[1]!.msg), { schema: 'driftwatch.alert.v1', summary: evil.summary });
    t.notMatch(got[1]!.msg, /<script/);
  });

  await t.test('receiver stopped and restarted: every alert once per idempotency key', async (t) => {
    const db = new SqliteStore({ dataDir: t.testdir() });
    t.teardown(() => db.close());
    const bus = new CollectorBus();
    const alerting = startAlerting(db, bus, alertingConfig({ ...FAST, sinks: [{ name: 'siem', type: 'syslog', address: `127.0.0.1:${port}`, protocol: 'tcp', timeout: '2s' }] }));
    t.teardown(() => alerting.close());
    await alerting.start();
    const before = rsyslog.received().length;
    const all = ['a', 'b', 'c', 'd'].map((name) => deviation({ workload: { ...WORKLOAD, name } }));
    const sent = async (ds: typeof all): Promise<boolean> => (await Promise.all(ds.map((d) => alerting.outbox.rows(`deviation:${d.id}`)))).every((rows) => rows.length > 0 && rows.every((r) => r.state === 'sent'));
    bus.emit({ type: 'deviation.created', deviation: all[0]! });
    await until(() => sent(all.slice(0, 1)));
    await rsyslog.stop();
    for (const d of all.slice(1)) bus.emit({ type: 'deviation.created', deviation: d });
    await until(async () => (await alerting.outbox.rows(`deviation:${all[3]!.id}`)).some((r) => r.attempts >= 2));
    await rsyslog.start();
    await until(() => sent(all));
    await until(() => rsyslog.received().length - before >= 4);
    const keys = rsyslog.received().slice(before).map((r) => /idempotencyKey="([^"]+)"/.exec(r.structuredData)![1]);
    t.equal(new Set(keys).size, 4, 'four notifications by idempotency key');
    t.equal(keys.length, 4, 'each received once');
  });
});
