import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../../cli/config.js';
import { INGEST_SERVICE, type AgentMessage, type CollectorMessage } from '../../../common/wire.js';
import { startCollector } from '../../../collector/main.js';
import { makeTestPki } from '../../helpers/certs.js';

const Client = grpc.makeGenericClientConstructor(INGEST_SERVICE, 'driftwatch.v1.Ingest');

/** Opens a stream, says hello, and resolves with the first server message or the error. */
function tryConnect(port: number, credentials: grpc.ChannelCredentials): Promise<{ ok: true; msg: CollectorMessage } | { ok: false; error: string }> {
  const client = new Client(`localhost:${port}`, credentials);
  return new Promise((resolve) => {
    const call = (client as unknown as { connect(): grpc.ClientDuplexStream<AgentMessage, CollectorMessage> }).connect();
    const done = (r: { ok: true; msg: CollectorMessage } | { ok: false; error: string }): void => {
      call.cancel();
      client.close();
      resolve(r);
    };
    call.on('data', (msg: CollectorMessage) => done({ ok: true, msg }));
    call.on('error', (err: Error) => done({ ok: false, error: err.message }));
    call.write({ hello: { node: 'n1', agentVersion: 't', sources: [], instanceId: 'n1-test', cluster: 'default' } });
    call.write({ workloads: { workloads: [] } });
  });
}

t.test('the collector refuses agents without a valid client certificate', async (t) => {
  const dir = t.testdir();
  const pki = makeTestPki(dir);
  const config = loadConfig({
    env: {},
    overrides: {
      'collector.dataDir': join(dir, 'data'),
      'collector.grpc.listen': '127.0.0.1:0',
      'collector.http.listen': '127.0.0.1:0',
      'collector.grpc.tls': { ca: pki.ca, cert: pki.serverCert, key: pki.serverKey },
    },
  });
  const collector = await startCollector(config);
  t.teardown(() => collector.close());
  const ca = readFileSync(pki.ca);

  const good = await tryConnect(collector.grpcPort, grpc.credentials.createSsl(ca, readFileSync(pki.clientKey), readFileSync(pki.clientCert)));
  t.ok(good.ok, 'a client certificate from the agents CA is accepted');

  const rogue = await tryConnect(collector.grpcPort, grpc.credentials.createSsl(ca, readFileSync(pki.rogueKey), readFileSync(pki.rogueCert)));
  t.notOk(rogue.ok, 'a certificate from another CA is refused');

  const none = await tryConnect(collector.grpcPort, grpc.credentials.createSsl(ca));
  t.notOk(none.ok, 'TLS without a client certificate is refused');

  const plain = await tryConnect(collector.grpcPort, grpc.credentials.createInsecure());
  t.notOk(plain.ok, 'plaintext is refused');
});

t.test('plaintext is allowed only on loopback or with insecure: true', async (t) => {
  const dir = t.testdir();
  const base = { 'collector.dataDir': join(dir, 'data'), 'collector.http.listen': '127.0.0.1:0' };
  await t.rejects(
    startCollector(loadConfig({ env: {}, overrides: { ...base, 'collector.grpc.listen': '0.0.0.0:0' } })),
    /refusing plaintext gRPC on non-loopback/,
  );
  const c = await startCollector(loadConfig({ env: {}, overrides: { ...base, 'collector.grpc.listen': '0.0.0.0:0', 'collector.grpc.insecure': true } }));
  await c.close();
  await c.close(); // idempotent
  t.pass('explicit insecure starts, and close is idempotent');
});
