/**
 * A receiver that echoes what it got (its URL, its headers) must not bring a sink's credentials
 * into the failure reason, which reaches logs, /readyz and `driftwatch alerts test`.
 */
import t from 'tap';
import { HttpClient } from '../../../collector/sinks/http.js';
import { Receiver } from '../../helpers/alerting.js';

t.test('reasons hold no URL credential, however the receiver echoes it', async (t) => {
  const rx = new Receiver();
  await rx.start();
  t.teardown(() => rx.close());
  const http = new HttpClient({ timeoutMs: 2000, headers: { 'x-api-key': 'KEY-abcdef1234' } });
  t.teardown(() => http.close());
  const echoes: [string, (r: { path: string; headers: Record<string, unknown> }) => string][] = [
    ['the request line', (r) => `Cannot POST ${r.path}`],
    ['the decoded request line', (r) => `Cannot POST ${decodeURIComponent(r.path)}`],
    ['one query value, raw', (r) => `bad token ${r.path.split('token=')[1]!.split('&')[0]}`],
    ['the basic credentials', (r) => `denied: ${String(r.headers.authorization)}`],
    ['the headers', (r) => JSON.stringify(r.headers)],
  ];
  const url = `http://alice:pa%24%24word-123@127.0.0.1:${rx.port}/hook/T0KEN-PATH-SEGMENT?token=abc%2Bdef123456&x=1`;
  for (const [what, echo] of echoes) {
    rx.respond = (r) => ({ status: 401, body: echo(r) });
    const verdict = await http.post(url, '{}', { 'content-type': 'application/json' });
    t.equal(verdict.result, 'fail');
    const reason = verdict.result === 'ok' ? '' : verdict.reason;
    t.match(reason, `HTTP 401 from http://127.0.0.1:${rx.port}`, what);
    for (const s of ['alice', 'pa$$word', 'pa%24%24word', 'abc%2Bdef123456', 'abc+def123456', 'T0KEN-PATH-SEGMENT', 'KEY-abcdef1234', Buffer.from('alice:pa$$word-123').toString('base64')])
      t.notMatch(reason, s, `${what}: no ${s}`);
  }
});
