/**
 * The Falco HTTP source with a real HTTP client: recorded Falco JSON accepted over one
 * keep-alive connection (as Falco's http_output posts); bad JSON, wrong content type, oversize
 * bodies and a missing token each get their status and a counter, and the server keeps serving.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { FalcoHttpSource, type FalcoHttpSourceConfig } from '../../../agent/sources/falco-http.js';
import { loadConfig } from '../../../cli/config.js';
import { makeTestPki } from '../../helpers/certs.js';
import { CollectingSink, fixture, newDeps } from '../../helpers/agent-support.js';

const TOKEN = 'a-shared-token-of-enough-length';

interface Reply {
  status: number;
  body: string;
  reusedSocket: boolean;
}

function post(port: number, path: string, body: string | Buffer, headers: Record<string, string>, agent: Agent): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', headers: { 'content-length': String(Buffer.byteLength(body)), ...headers }, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), reusedSocket: req.reusedSocket }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const json = { 'content-type': 'application/json', 'user-agent': 'falcosecurity/falco' };
const alertLines = ['process_spawn.json', 'network_connect.json', 'internal.json', 'file_access.json', 'plugin_k8saudit.json'].flatMap((f) =>
  readFileSync(fixture('falco', f), 'utf8').split('\n').filter((l) => l.trim() !== ''),
);

async function startSource(t: { teardown(fn: () => unknown): void }, extra: Record<string, unknown> = {}) {
  const sink = new CollectingSink();
  const deps = newDeps(sink);
  const source = new FalcoHttpSource({ kind: 'falco-http', listen: '127.0.0.1:0', token: TOKEN, maxBodyBytes: 4096, ...extra }, deps);
  await source.start();
  t.teardown(() => source.close());
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  return { sink, deps, source, agent };
}

t.test('recorded Falco alerts over one keep-alive connection', async (t) => {
  const { sink, source, agent } = await startSource(t);
  const replies: Reply[] = [];
  for (const line of alertLines) replies.push(await post(source.port, `/?token=${TOKEN}`, line, json, agent));
  t.ok(replies.every((r) => r.status === 204), 'every alert answered 204');
  t.ok(replies.slice(1).every((r) => r.reusedSocket), 'the connection is kept alive');
  t.equal(sink.observations.length, 9, '7 spawns + 2 connects become observations');
  t.equal(source.counters.ignored, alertLines.length - 9, 'internal, file and k8s_audit alerts are ignored');
  t.ok(source.connected);
});

t.test('bearer header works too', async (t) => {
  const { sink, source, agent } = await startSource(t);
  const r = await post(source.port, '/', alertLines[0]!, { ...json, authorization: `Bearer ${TOKEN}` }, agent);
  t.equal(r.status, 204);
  t.equal(sink.observations.length, 1);
});

t.test('bad requests get their status and a counter; the server keeps serving', async (t) => {
  const { sink, deps, source, agent } = await startSource(t);
  const ok = `/?token=${TOKEN}`;
  t.equal((await post(source.port, '/', alertLines[0]!, json, agent)).status, 401, 'missing token');
  t.equal((await post(source.port, '/?token=wrong-token-wrong-token', alertLines[0]!, json, agent)).status, 401, 'wrong token');
  t.equal((await post(source.port, ok, alertLines[0]!, { 'content-type': 'text/plain' }, agent)).status, 415, 'plain text (json_output: false)');
  t.equal((await post(source.port, ok, '{"rule": "x", "output_fields": ', json, agent)).status, 400, 'bad JSON');
  t.equal((await post(source.port, ok, '[1,2,3]', json, agent)).status, 400, 'JSON that is not an alert');
  const big = JSON.stringify({ rule: 'x', output: 'y'.repeat(10_000), output_fields: {} });
  t.equal((await post(source.port, ok, big, json, agent)).status, 413, 'oversize body');
  const get = await new Promise<number>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: source.port, path: ok, method: 'GET', agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
  t.equal(get, 405, 'only POST');
  const fresh = new Agent({ keepAlive: true });
  t.teardown(() => fresh.destroy());
  t.equal((await post(source.port, ok, alertLines[0]!, json, fresh)).status, 204, 'still serving after all that');
  t.equal(sink.observations.length, 1);
  t.same(
    { ...source.responses },
    { '204': 1, '400': 2, '401': 2, '405': 1, '413': 1, '415': 1, '503': 0 },
    'per-status counts',
  );
  t.equal(source.counters.malformed, 4, 'after authentication, every request that is no event is a counted rejection');
  t.same(source.counters.rejected, { 'not-json': 1, undecodable: 1, 'not-an-event': 1, 'too-large': 1 }, 'by reason');
  const metrics = await deps.registry.getSingleMetricAsString('driftwatch_source_http_requests_total');
  t.match(metrics, /status="401"\} 2/);
  t.match(metrics, /status="413"\} 1/);
  t.match(metrics, /status="415"\} 1/);
  t.match(metrics, /status="400"\} 2/);
});

t.test('a full sink: the alert is counted as dropped and answered 503', async (t) => {
  const { sink, source, agent } = await startSource(t);
  sink.block();
  const r = await post(source.port, `/?token=${TOKEN}`, alertLines[0]!, json, agent);
  t.equal(r.status, 503);
  t.equal(source.counters.dropped, 1);
});

t.test('TLS with client certificates (Falco http_output.mtls)', async (t) => {
  const pki = makeTestPki(t.testdir());
  const { source } = await startSource(t, { tls: { cert: pki.serverCert, key: pki.serverKey, ca: pki.ca } });
  const send = (cert?: string, key?: string): Promise<number> =>
    new Promise((resolve, reject) => {
      const agent = new HttpsAgent({ ca: readFileSync(pki.ca), ...(cert ? { cert: readFileSync(cert), key: readFileSync(key!) } : {}) });
      const req = httpsRequest({ host: '127.0.0.1', port: source.port, path: `/?token=${TOKEN}`, method: 'POST', headers: json, agent }, (res) => {
        res.resume();
        res.on('end', () => {
          agent.destroy();
          resolve(res.statusCode ?? 0);
        });
      });
      req.on('error', (err) => {
        agent.destroy();
        reject(err);
      });
      req.end(alertLines[0]);
    });
  t.equal(await send(pki.clientCert, pki.clientKey), 204, 'a client certificate of the CA is accepted');
  await t.rejects(send(), 'no client certificate: refused during the handshake');
  await t.rejects(send(pki.rogueCert, pki.rogueKey), 'a certificate of another CA is refused');
});

t.test('beyond loopback it refuses to start without token or client certificates, unless insecure', async (t) => {
  const open = (extra: Record<string, unknown>): FalcoHttpSource => {
    const source = new FalcoHttpSource({ kind: 'falco-http', name: 'falco-open', listen: '0.0.0.0:0', ...extra }, newDeps(new CollectingSink()));
    t.teardown(() => source.close());
    return source;
  };
  await t.rejects(open({}).start(), /falco http source falco-open: listen 0\.0\.0\.0:0 is not loopback .*set token, or tls\.cert \+ tls\.key \+ tls\.ca/);
  const pki = makeTestPki(t.testdir());
  await t.rejects(open({ tls: { cert: pki.serverCert, key: pki.serverKey } }).start(), /not loopback/, 'TLS without client certificates authenticates nobody');
  await t.resolves(open({ token: TOKEN }).start(), 'a token');
  await t.resolves(open({ tls: { cert: pki.serverCert, key: pki.serverKey, ca: pki.ca } }).start(), 'client certificates');
  await t.resolves(open({ insecure: true }).start(), 'explicitly insecure');
  await t.resolves(open({ listen: '127.0.0.1:0' }).start(), 'loopback needs nothing');
});

t.test('insecure is part of the source schema', async (t) => {
  const config = loadConfig({ env: {}, overrides: { 'agent.sources': [{ kind: 'falco-http', listen: '0.0.0.0:8766', insecure: true }] } });
  t.equal((config.agent.sources[0] as FalcoHttpSourceConfig).insecure, true);
});
