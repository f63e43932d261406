/**
 * The Falco legacy gRPC source against a protocol-faithful fake Falco (`outputs.service/sub`,
 * bidirectional, alerts handed out per request from one shared queue) serving the golden .bin
 * records byte for byte: the observations equal those from the JSON alerts.
 */
import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTestPki } from '../../helpers/certs.js';
import { normaliseFalco, type FalcoAlert } from '../../../agent/normalise/falco.js';
import { FalcoGrpcSource } from '../../../agent/sources/falco-grpc.js';
import { FakeFalcoGrpc } from '../../helpers/fake-falco-grpc.js';
import { binRecords, CollectingSink, comparable, fixture, fixtureFiles, jsonLines, newContext, newDeps, socketDir, until } from '../../helpers/agent-support.js';

const files = fixtureFiles('falco', '.bin');
const records = files.flatMap((f) => binRecords(fixture('falco', f)));
const alerts = files.flatMap((f) => jsonLines(fixture('falco', f.replace(/\.bin$/, '.json'))));

t.test('unix socket: golden records → same observations as the JSON alerts', async (t) => {
  const address = `unix://${join(socketDir(t), 'falco.sock')}`;
  const server = new FakeFalcoGrpc({ address, messages: records });
  await server.start();
  t.teardown(() => server.stop());
  const sink = new CollectingSink();
  const source = new FalcoGrpcSource({ kind: 'falco-grpc', address }, newDeps(sink));
  t.teardown(() => source.close());
  await source.start();
  await until(() => source.counters.seen === records.length, 10_000, 'all alerts');
  const ctx = newContext('falco-json');
  const expected = comparable(alerts.map((a) => normaliseFalco(a as FalcoAlert, ctx)).filter((r) => typeof r !== 'string'));
  t.ok(expected.length > 0);
  t.same(comparable(sink.observations), expected, 'same observations');
  t.equal(source.counters.malformed, 0);
  t.ok(server.requests.length >= 1, 'the client sent (empty) requests');
  t.ok(server.requests.every((r) => r.length === 0), 'requests are empty messages');
});

t.test('reconnects when Falco restarts, polls again, and counts malformed messages', async (t) => {
  let server = new FakeFalcoGrpc({ address: '127.0.0.1:0', messages: [records[0]!] });
  await server.start();
  const address = server.address;
  t.teardown(() => server.stop());
  const sink = new CollectingSink();
  const source = new FalcoGrpcSource({ kind: 'falco-grpc', address }, newDeps(sink));
  t.teardown(() => source.close());
  await source.start();
  await until(() => source.counters.seen === 1, 10_000, 'first alert');
  await server.stop();
  await until(() => !source.connected, 10_000, 'disconnect');
  server = new FakeFalcoGrpc({ address, messages: [Buffer.from([0x0a, 0xff]), records[0]!] });
  await server.start();
  await until(() => source.counters.seen === 3, 15_000, 'alerts after restart');
  t.equal(source.counters.malformed, 1, 'the truncated message is malformed');
  t.ok(source.connected);
});

t.test('TCP off this host without tls is refused at construction (Falco serves TCP only with mTLS)', async (t) => {
  t.throws(() => new FalcoGrpcSource({ kind: 'falco-grpc', address: '10.1.2.3:5060' }, newDeps(new CollectingSink())), /needs tls/);
});

t.test('TCP with mTLS (Falco grpc.bind_address on a network address)', async (t) => {
  const pki = makeTestPki(t.testdir());
  const credentials = grpc.ServerCredentials.createSsl(readFileSync(pki.ca), [{ cert_chain: readFileSync(pki.serverCert), private_key: readFileSync(pki.serverKey) }], true);
  const server = new FakeFalcoGrpc({ address: '127.0.0.1:0', messages: records.slice(0, 3), credentials });
  await server.start();
  t.teardown(() => server.stop());
  const sink = new CollectingSink();
  const source = new FalcoGrpcSource(
    { kind: 'falco-grpc', address: server.address.replace('127.0.0.1', 'localhost'), tls: { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey } },
    newDeps(sink),
  );
  t.teardown(() => source.close());
  await source.start();
  await until(() => source.counters.seen === 3, 10_000, 'alerts over mTLS');
  t.ok(source.connected);
});
