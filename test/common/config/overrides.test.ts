/**
 * Environment variables and flags override the configuration file; each override is logged once
 * at start — the key and where it came from, never the value (it may be a token or a URL with
 * credentials) — by the agent, the collector and the demo.
 */
import t from 'tap';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { loadConfigWithOverrides } from '../../../cli/config.js';
import { main } from '../../../cli/main.js';
import { logOverrides } from '../../../cli/serve.js';
import { createLogger } from '../../../common/logger.js';
import { spawnCli } from '../../helpers/processes.js';

const SECRET_TOKEN = 'falco-token-never-logged-0123456789';
const SECRET_URL = 'https://alice:hunter2-never-logged@console.example.org';

interface LogLine {
  message: string;
  key?: string;
  source?: string;
}

const overrideLines = (stderr: string): LogLine[] =>
  stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine)
    .filter((l) => l.message === 'configuration override');

t.test('the loader reports each key the environment and the flags set, without values', async (t) => {
  const file = join(t.testdir({ 'c.yaml': 'collector:\n  http:\n    listen: 127.0.0.1:1111\n' }), 'c.yaml');
  const { config, overrides } = loadConfigWithOverrides({
    file,
    env: {
      DRIFTWATCH_COLLECTOR__HTTP__LISTEN: '127.0.0.1:2222',
      DRIFTWATCH_AGENT__SOURCES: JSON.stringify([{ kind: 'falco-http', token: SECRET_TOKEN }]),
      DRIFTWATCH_SERVER: 'https://not-a-config-key.example',
      PATH: '/usr/bin',
    },
    overrides: { 'collector.dataDir': '/tmp/flagged', 'log.level': undefined },
    overrideSources: { 'collector.dataDir': 'flag --data-dir', 'log.level': 'flag --log-level' },
  });
  t.equal(config.collector.http.listen, '127.0.0.1:2222');
  t.same(overrides, [
    { key: 'collector.http.listen', source: 'env DRIFTWATCH_COLLECTOR__HTTP__LISTEN' },
    { key: 'agent.sources', source: 'env DRIFTWATCH_AGENT__SOURCES' },
    { key: 'collector.dataDir', source: 'flag --data-dir' },
  ], 'only what was set, in the order applied; an unset flag is no override');
  t.notMatch(JSON.stringify(overrides), SECRET_TOKEN);

  const out = new PassThrough();
  let text = '';
  out.on('data', (c: Buffer) => (text += c.toString()));
  logOverrides(createLogger({ format: 'json', stream: out }), overrides);
  t.same(
    overrideLines(text).map((l) => [l.key, l.source]),
    overrides.map((o) => [o.key, o.source]),
    'one line per override',
  );
  t.notMatch(text, SECRET_TOKEN, 'values are never logged');
});

t.test('the collector logs its overrides at start', async (t) => {
  const dir = t.testdir();
  const collector = spawnCli(['collector', '--data-dir', join(dir, 'data'), '--http-listen', '127.0.0.1:0', '--grpc-listen', '127.0.0.1:0'], {
    DRIFTWATCH_LOG__LEVEL: 'info',
    DRIFTWATCH_COLLECTOR__BASELINES_DIR: join(dir, 'baselines'),
    DRIFTWATCH_COLLECTOR__HTTP__PUBLIC_URL: SECRET_URL,
    DRIFTWATCH_COLLECTOR__KUBERNETES__MODE: 'off',
  });
  t.teardown(() => collector.stop('SIGKILL'));
  await collector.waitForLog(/collector ready/);
  t.equal(await collector.stop(), 0);
  const sources = Object.fromEntries(overrideLines(collector.stderr()).map((l) => [l.key, l.source]));
  t.match(sources, {
    'log.level': 'env DRIFTWATCH_LOG__LEVEL',
    'log.format': 'env DRIFTWATCH_LOG__FORMAT',
    'collector.baselinesDir': 'env DRIFTWATCH_COLLECTOR__BASELINES_DIR',
    'collector.http.publicUrl': 'env DRIFTWATCH_COLLECTOR__HTTP__PUBLIC_URL',
    'collector.http.listen': 'flag --http-listen',
    'collector.grpc.listen': 'flag --grpc-listen',
    'collector.dataDir': 'flag --data-dir',
  });
  t.notMatch(collector.stderr(), 'hunter2', 'credentials in a value never reach the log');
});

t.test('the agent logs its overrides at start', async (t) => {
  const dir = t.testdir({ 'events.jsonl': '' });
  const agent = spawnCli(['agent', '--node', 'node-a', '--collector', '127.0.0.1:9'], {
    DRIFTWATCH_LOG__LEVEL: 'info',
    DRIFTWATCH_AGENT__SOURCES: JSON.stringify([{ kind: 'tetragon-json', address: join(dir, 'events.jsonl') }]),
    DRIFTWATCH_AGENT__HTTP__LISTEN: '127.0.0.1:0',
    DRIFTWATCH_AGENT__KUBERNETES__MODE: 'off',
  });
  t.teardown(() => agent.stop('SIGKILL'));
  await agent.waitForLog(/"source":"flag --collector"/);
  await agent.stop();
  const sources = Object.fromEntries(overrideLines(agent.stderr()).map((l) => [l.key, l.source]));
  t.match(sources, {
    'agent.sources': 'env DRIFTWATCH_AGENT__SOURCES',
    'agent.http.listen': 'env DRIFTWATCH_AGENT__HTTP__LISTEN',
    'agent.node': 'flag --node',
    'agent.collector.address': 'flag --collector',
  });
});

t.test('the demo logs its settings and flags at start', async (t) => {
  const dir = t.testdir({ 'empty.jsonl': '' });
  // In this process (the demo exits by itself): its log goes to stderr, its progress to stdout.
  let stderr = '';
  const writes = { out: process.stdout.write.bind(process.stdout), err: process.stderr.write.bind(process.stderr) };
  process.stdout.write = (() => true) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => ((stderr += String(chunk)), true)) as typeof process.stderr.write;
  let code: number;
  try {
    code = await main(['node', 'driftwatch', 'demo', '--exit', '--http-port', '0', '--data-dir', join(dir, 'data'), '--recording', join(dir, 'empty.jsonl'), '--log-level', 'info']);
  } finally {
    process.stdout.write = writes.out;
    process.stderr.write = writes.err;
  }
  t.equal(code, 0);
  const sources = Object.fromEntries(overrideLines(stderr).map((l) => [l.key, l.source]));
  t.match(sources, { 'log.level': 'flag --log-level', 'collector.http.listen': 'flag --http-port', 'collector.dataDir': 'flag --data-dir', 'agent.node': 'demo' });
});
