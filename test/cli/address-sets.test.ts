import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import t, { type Test } from 'tap';
import { loadAddressSetsDir } from '../../collector/addresses/address-sets.js';
import { AWS_IP_RANGES, AZURE_SERVICE_TAGS, GCP_CLOUD } from '../helpers/address-set-files.js';
import { run } from '../helpers/cli-run.js';

/** The providers' download locations, served on loopback; `/big.json` is sent in chunks without a length, `/hang` never answers. */
async function provider(t: Test): Promise<string> {
  const files: Record<string, string> = {
    '/ip-ranges.json': JSON.stringify(AWS_IP_RANGES),
    '/cloud.json': JSON.stringify(GCP_CLOUD),
    '/ServiceTags_Public.json': JSON.stringify(AZURE_SERVICE_TAGS),
    '/truncated.json': JSON.stringify(AWS_IP_RANGES).slice(0, 200),
    '/bad-cidr.json': JSON.stringify({ ...AWS_IP_RANGES, prefixes: [{ ip_prefix: '52.218.0.0/33', region: 'eu-west-1', service: 'S3' }] }),
  };
  const server = createServer((req, res) => {
    if (req.url === '/big.json') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"prefixes": [' + ' '.repeat(1000));
      res.write(' '.repeat(1000));
      res.end(']}');
      return;
    }
    if (req.url === '/hang') return;
    const body = files[req.url ?? ''];
    if (body === undefined) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => (server.close(() => resolve()), server.closeAllConnections())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

t.test('the three official formats are downloaded, checked and written where the collector reads them', async (t) => {
  const base = await provider(t);
  const dir = t.testdir();
  for (const [path, kind, out] of [['/ip-ranges.json', 'aws', 'aws.json'], ['/cloud.json', 'google', 'google.json'], ['/ServiceTags_Public.json', 'azure', 'azure.json.gz']] as const) {
    const r = await run(null, ['address-sets', 'refresh', '--from', base + path, '--kind', kind, '--out', join(dir, out)]);
    t.equal(r.code, 0, `${kind}: ${r.err}`);
    t.match(r.out, new RegExp(`${out}: ${kind} ranges written \\(\\d+ ranges in \\d+ sets\\)`));
  }
  t.match((await run(null, ['address-sets', 'refresh', '--from', base + '/ip-ranges.json', '--kind', 'aws', '--out', join(dir, 'aws.json')])).out, /\(12 ranges in 5 sets\)/, 'counts');
  t.same(JSON.parse(gunzipSync(readFileSync(join(dir, 'azure.json.gz'))).toString()), AZURE_SERVICE_TAGS, '.gz written compressed');
  const loaded = loadAddressSetsDir(dir);
  t.same(loaded.errors, []);
  t.same(loaded.files.map((f) => f.format).sort(), ['aws', 'azure', 'gcp']);
  t.equal(loaded.sets.setOf('52.218.12.34'), 'aws:S3:eu-west-1');
  t.same(readdirSync(dir).sort(), ['aws.json', 'azure.json.gz', 'google.json'], 'no temporary file left behind');

  const local = join(t.testdir({ 'cloud.json': JSON.stringify(GCP_CLOUD) }), 'cloud.json');
  const r = await run(null, ['address-sets', 'refresh', '--from', local, '--kind', 'google', '--out', join(dir, 'google.json')]);
  t.equal(r.code, 0, 'a local file as the source');
});

t.test('anything invalid leaves the file untouched and says why', async (t) => {
  const base = await provider(t);
  const dir = t.testdir();
  const out = join(dir, 'aws.json');
  writeFileSync(out, JSON.stringify(AWS_IP_RANGES));
  const before = readFileSync(out, 'utf8');
  const cases: [string[], RegExp][] = [
    [['--from', base + '/truncated.json', '--kind', 'aws'], /truncated\.json: not valid JSON: .*; nothing written/],
    [['--from', base + '/bad-cidr.json', '--kind', 'aws'], /bad-cidr\.json: prefixes\[0\]: not a CIDR: "52\.218\.0\.0\/33"; nothing written/],
    [['--from', base + '/cloud.json', '--kind', 'aws'], /cloud\.json: a gcp file, not aws; nothing written/],
    [['--from', base + '/missing.json', '--kind', 'aws'], /missing\.json: download failed: HTTP 404/],
    [['--from', base + '/big.json', '--kind', 'aws', '--max-size', '1024'], /big\.json: download failed: more than --max-size 1024 bytes/],
    [['--from', base + '/hang', '--kind', 'aws', '--timeout', '200ms'], /hang: download failed: timed out/],
    [['--from', join(dir, 'nope.json'), '--kind', 'aws'], /nope\.json: cannot read: ENOENT/],
    [['--from', 'http://ranges.example/ip-ranges.json', '--kind', 'aws'], /use https \(plain http only from this machine/],
  ];
  for (const [args, re] of cases) {
    const r = await run(null, ['address-sets', 'refresh', ...args, '--out', out]);
    t.equal(r.code, 1, args[1]!);
    t.match(r.err, re);
    t.equal(readFileSync(out, 'utf8'), before, 'untouched');
  }
  const wrongName = await run(null, ['address-sets', 'refresh', '--from', base + '/ip-ranges.json', '--kind', 'aws', '--out', join(dir, 'aws.txt')]);
  t.match(wrongName.err, /the collector reads only \*\.json or \*\.json\.gz files/);
  t.same(readdirSync(dir), ['aws.json'], 'nothing else written');
});
