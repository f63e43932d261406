import t from 'tap';
import { Registry } from 'prom-client';
import { OpsServer } from '../../common/ops-server.js';

t.test('/healthz, /readyz and /metrics', async (t) => {
  const registry = new Registry();
  const ops = new OpsServer('127.0.0.1:0', registry);
  let ready = false;
  ops.addProbe(() => ({ name: 'thing', ready, detail: ready ? 'up' : 'down' }));
  await ops.start();
  t.teardown(() => ops.close());
  const base = `http://127.0.0.1:${ops.port}`;

  t.equal((await fetch(`${base}/healthz`)).status, 200);
  const notReady = await fetch(`${base}/readyz`);
  t.equal(notReady.status, 503, 'not ready while a probe fails');
  t.match(await notReady.json(), { ready: false, components: [{ name: 'thing', ready: false, detail: 'down' }] });
  ready = true;
  t.equal((await fetch(`${base}/readyz`)).status, 200);
  let sinkOk = false;
  ops.addProbe(() => ({ name: 'alert-sink:slack', ready: sinkOk, detail: 'failing for 10m' }), { critical: false });
  const degraded = await fetch(`${base}/readyz`);
  t.equal(degraded.status, 200, 'a non-critical failure does not fail readiness');
  t.match(await degraded.json(), { ready: true, degraded: true, components: [{ name: 'thing', ready: true }, { name: 'alert-sink:slack', ready: false, critical: false }] });
  sinkOk = true;
  t.match(await (await fetch(`${base}/readyz`)).json(), { degraded: false });
  const metrics = await fetch(`${base}/metrics`);
  t.equal(metrics.status, 200);
  t.match(metrics.headers.get('content-type'), /text\/plain/);
  const notFound = await fetch(`${base}/nope`);
  t.equal(notFound.status, 404);
  t.match(await notFound.json(), { code: 'DW_ERR_NOT_FOUND' });
  await ops.close();
  await ops.close();
});

t.test('HTTPS when the listener has a certificate', async (t) => {
  const { makeTestPki } = await import('../helpers/certs.js');
  const { request } = await import('node:https');
  const { readFileSync } = await import('node:fs');
  const pki = makeTestPki(t.testdir());
  const ops = new OpsServer('127.0.0.1:0', new Registry(), undefined, { cert: pki.serverCert, key: pki.serverKey });
  await ops.start();
  t.teardown(() => ops.close());
  const body = await new Promise<string>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', servername: 'localhost', port: ops.port, path: '/healthz', ca: readFileSync(pki.ca) }, (res) => {
      let b = '';
      res.on('data', (c: Buffer) => (b += c.toString()));
      res.on('end', () => resolve(b));
    });
    req.on('error', reject);
    req.end();
  });
  t.equal(body, 'ok\n', 'served over TLS, verified against the CA');
  const plain = await fetch(`http://127.0.0.1:${ops.port}/healthz`).then(
    () => 'answered',
    () => 'refused',
  );
  t.equal(plain, 'refused', 'plain HTTP gets no answer');
});
