/**
 * `collector.http.externalUrl` is the console's base URL in every link; `publicUrl`, its first
 * name, keeps working as a deprecated alias: moved to externalUrl when the configuration loads,
 * warned about at start, and an error when both are set to different values.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import t from 'tap';
import { ConfigError, loadConfigWithOverrides } from '../../../cli/config.js';
import { logOverrides } from '../../../cli/serve.js';
import { uiBaseUrl } from '../../../collector/links.js';
import { createLogger } from '../../../common/logger.js';

const DEPRECATION = [{ key: 'collector.http.publicUrl', replacement: 'collector.http.externalUrl' }];

t.test('externalUrl sets the base of every link', async (t) => {
  const { config, deprecations } = loadConfigWithOverrides({ env: {}, overrides: { 'collector.http.externalUrl': 'https://dw.example/' } });
  t.equal(uiBaseUrl(config.collector.http), 'https://dw.example');
  t.same(deprecations, [], 'the documented name is not deprecated');
});

t.test('publicUrl still works, as a deprecated alias warned about at start', async (t) => {
  const { config, overrides, deprecations } = loadConfigWithOverrides({ env: { DRIFTWATCH_COLLECTOR__HTTP__PUBLIC_URL: 'https://old.example' } });
  t.equal(config.collector.http.externalUrl, 'https://old.example', 'moved to the documented key');
  t.equal(config.collector.http.publicUrl, undefined, 'one resolved value: nothing reads the old key');
  t.equal(uiBaseUrl(config.collector.http), 'https://old.example');
  t.same(deprecations, DEPRECATION);

  const out = new PassThrough();
  let text = '';
  out.on('data', (c: Buffer) => (text += c.toString()));
  logOverrides(createLogger({ format: 'json', stream: out }), overrides, deprecations);
  const warning = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.level === 'warn');
  t.match(warning, { key: 'collector.http.publicUrl', replacement: 'collector.http.externalUrl' }, 'a warning at start');
  t.match(warning?.msg ?? warning?.message, /publicUrl is deprecated.*rename it to collector\.http\.externalUrl/);
});

t.test('both set: the same value is accepted, different values are an error naming both', async (t) => {
  const same = loadConfigWithOverrides({ env: {}, overrides: { 'collector.http.publicUrl': 'https://a.example', 'collector.http.externalUrl': 'https://a.example' } });
  t.equal(same.config.collector.http.externalUrl, 'https://a.example');
  t.same(same.deprecations, DEPRECATION);

  const file = join(t.testdir(), 'driftwatch.yaml');
  writeFileSync(file, 'collector:\n  http:\n    externalUrl: https://new.example\n    publicUrl: https://old.example\n');
  const err = t.throws(() => loadConfigWithOverrides({ file, env: {} })) as unknown as ConfigError;
  t.ok(err instanceof ConfigError, 'a configuration error');
  t.match(err.message, /collector\.http\.publicUrl \(deprecated\) and collector\.http\.externalUrl are both set/);
  t.equal(err.line, 4, 'at the deprecated key');
});
