/** Credentials in URLs: never in a log line, an error or a shown URL. */
import t from 'tap';
import { PassThrough } from 'node:stream';
import { createLogger } from '../../common/logger.js';
import { redactUrl, redactUrlsIn, urlCredentials } from '../../common/redact.js';

const URL_WITH_SECRETS = 'https://alice:pa%24%24word-123@hooks.example.com/services/T0KEN-PATH-SEGMENT?token=abc%2Bdef123456&x=1';
const SECRETS = ['alice', 'pa%24%24word-123', 'pa$$word-123', 'abc%2Bdef123456', 'abc+def123456'];

t.test('redactUrl keeps origin and path, never userinfo or query values', async (t) => {
  t.equal(redactUrl(URL_WITH_SECRETS), 'https://<redacted>@hooks.example.com/services/T0KEN-PATH-SEGMENT?token=<redacted>&x=<redacted>');
  t.equal(redactUrl('http://127.0.0.1:8080'), 'http://127.0.0.1:8080/');
  t.equal(redactUrl('not a url'), '<invalid url>');
});

t.test('redactUrlsIn treats every URL in a text', async (t) => {
  const text = `connect ECONNREFUSED for ${URL_WITH_SECRETS} then http://bob:hunter2@10.0.0.1:9093/api?key=k3y and ftp://x`;
  const out = redactUrlsIn(text);
  for (const s of [...SECRETS, 'bob', 'hunter2', 'k3y']) t.notMatch(out, s, `${s} is gone`);
  t.match(out, 'https://<redacted>@hooks.example.com/services/T0KEN-PATH-SEGMENT?token=<redacted>&x=<redacted>');
  t.match(out, 'http://<redacted>@10.0.0.1:9093/api?key=<redacted>');
  t.equal(redactUrlsIn('no url here: a@b c?d=e'), 'no url here: a@b c?d=e', 'text without a URL is left alone');
});

t.test('urlCredentials lists every form a receiver may echo', async (t) => {
  const forms = urlCredentials(new URL(URL_WITH_SECRETS));
  for (const s of [...SECRETS, Buffer.from('alice:pa$$word-123').toString('base64')]) t.ok(forms.includes(s), s);
});

t.test('the logger never writes a URL credential, in the message or any field', async (t) => {
  for (const format of ['json', 'text'] as const) {
    const stream = new PassThrough();
    let written = '';
    stream.on('data', (c: Buffer) => (written += c.toString('utf8')));
    const logger = createLogger({ format, stream });
    logger.warn(`request to ${URL_WITH_SECRETS} failed`, { url: URL_WITH_SECRETS, error: `getaddrinfo ENOTFOUND ${URL_WITH_SECRETS}` });
    await new Promise((resolve) => setImmediate(resolve));
    t.match(written, 'hooks.example.com', `${format}: the line is written`);
    for (const s of SECRETS) t.notMatch(written, s, `${format}: ${s} is not`);
  }
});
