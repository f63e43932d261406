/**
 * The manual mTLS procedure in docs/install.md, run as written (kubectl replaced by a recorder):
 * its certificates must give a working mutual TLS between an agent and the collector under the
 * name agents dial, and its Secrets must be the ones, with the keys, that the manifests mount.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, createServer, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { runManualPki } from './pki.js';

const COLLECTOR_NAME = 'driftwatch-collector-grpc.driftwatch.svc';

/** Handshake result of a client with `client` material against a server with `server` material. */
async function handshake(dir: string, server: { cert: string; key: string }, client: { cert: string; key: string }): Promise<{ serverSawClient: boolean; error?: string }> {
  const read = (f: string): Buffer => readFileSync(join(dir, f));
  const srv = createServer({ cert: read(server.cert), key: read(server.key), ca: read('ca.crt'), requestCert: true, rejectUnauthorized: true });
  let serverSawClient = false;
  srv.on('secureConnection', (s: TLSSocket) => {
    serverSawClient = s.authorized;
    s.end();
  });
  srv.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  try {
    await new Promise<void>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, servername: COLLECTOR_NAME, ca: read('ca.crt'), cert: read(client.cert), key: read(client.key) });
      socket.once('secureConnect', () => {
        socket.once('end', () => resolve());
        socket.once('close', () => resolve());
        socket.resume();
      });
      socket.once('error', reject);
    });
    return { serverSawClient };
  } catch (err) {
    return { serverSawClient, error: (err as Error).message };
  } finally {
    await new Promise<void>((resolve) => srv.close(() => resolve()));
  }
}

t.test('the manual openssl procedure yields working mTLS material for the Secrets the manifests mount', async (t) => {
  const { dir: pki, kubectlLog: log } = runManualPki(t.testdir());

  const ok = await handshake(pki, { cert: 'collector.crt', key: 'collector.key' }, { cert: 'agent.crt', key: 'agent.key' });
  t.equal(ok.error, undefined, `agent → collector handshake as ${COLLECTOR_NAME}`);
  t.equal(ok.serverSawClient, true, 'the collector verified the agent certificate');

  const wrongWay = await handshake(pki, { cert: 'agent.crt', key: 'agent.key' }, { cert: 'collector.crt', key: 'collector.key' });
  t.ok(wrongWay.error, 'the agent certificate cannot serve as the collector (clientAuth only, no collector name)');

  for (const [secret, crt, key] of [
    ['driftwatch-collector-tls', 'collector.crt', 'collector.key'],
    ['driftwatch-agent-tls', 'agent.crt', 'agent.key'],
  ] as const) {
    t.match(log, `-n driftwatch create secret generic ${secret} --from-file=tls.crt=${crt} --from-file=tls.key=${key} --from-file=ca.crt=ca.crt`, `${secret} gets tls.crt, tls.key and ca.crt`);
  }
  t.notMatch(log, /ca\.key/, 'the CA key never goes into the cluster');
});
