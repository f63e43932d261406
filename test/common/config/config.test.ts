import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../../cli/config.js';
import { main } from '../../../cli/main.js';

t.test('defaults fill every section', async (t) => {
  const c = loadConfig({ env: {} });
  t.equal(c.cluster, 'default');
  t.equal(c.collector.dataDir, './data');
  t.equal(c.agent.collector.address, '127.0.0.1:7443');
  t.equal(c.collector.learning.window, '24h');
  t.ok(Object.isFrozen(c.collector), 'config is frozen');
});

t.test('file, environment and flags override in that order', async (t) => {
  const dir = t.testdir({ 'c.yaml': 'cluster: prod\ncollector:\n  http:\n    listen: 127.0.0.1:1111\n  dataDir: /tmp/x\n' });
  const c = loadConfig({
    file: join(dir, 'c.yaml'),
    env: { DRIFTWATCH_COLLECTOR__HTTP__LISTEN: '127.0.0.1:2222', DRIFTWATCH_AGENT__SHIP__BATCH_SIZE: '7', DRIFTWATCH_UNRELATED: 'x' },
    overrides: { 'collector.dataDir': '/tmp/y' },
  });
  t.equal(c.cluster, 'prod');
  t.equal(c.collector.http.listen, '127.0.0.1:2222', 'env beats file');
  t.equal(c.agent.ship.batchSize, 7, 'env values are typed, snake_case becomes camelCase');
  t.equal(c.collector.dataDir, '/tmp/y', 'flag beats file');
});

t.test('errors name the file, the line, the key and the reason', async (t) => {
  const dir = t.testdir({
    'unknown.yaml': 'cluster: prod\ncollector:\n  grpc:\n    lisen: 1.2.3.4:5\n',
    'type.yaml': 'agent:\n  ship:\n    batchSize: many\n',
    'enum.yaml': 'log:\n  level: loud\n',
    'syntax.yaml': 'agent:\n  node: [unclosed\n',
    'dup.yaml': 'cluster: a\ncluster: b\n',
  });
  const err = (f: string): ConfigError => {
    try {
      loadConfig({ file: join(dir, f), env: {} });
    } catch (e) {
      if (e instanceof ConfigError) return e;
      throw e;
    }
    throw new Error('no error');
  };
  const unknown = err('unknown.yaml');
  t.equal(unknown.key, 'collector.grpc.lisen');
  t.equal(unknown.line, 4);
  t.match(unknown.message, /unknown\.yaml:4:5: collector\.grpc\.lisen: unknown key/);
  const type = err('type.yaml');
  t.equal(type.key, 'agent.ship.batchSize');
  t.equal(type.line, 3);
  t.match(type.message, /must be integer/);
  t.match(err('enum.yaml').message, /enum\.yaml:2:\d+: log\.level: must be one of "error", "warn", "info", "debug"/);
  t.match(err('syntax.yaml').message, /syntax\.yaml:\d+:\d+: /);
  t.match(err('dup.yaml').message, /dup\.yaml:2:1: .*unique/i);
});

t.test('the CLI prints one line and exits 2 on a bad config', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, 'collector:\n  http:\n    listen: 42\n');
  const lines: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  let code: number;
  try {
    code = await main(['node', 'driftwatch', 'collector', '--config', file, '--check']);
  } finally {
    process.stderr.write = write;
  }
  t.equal(code, 2);
  t.equal(lines.length, 1, 'exactly one line');
  t.match(lines[0], new RegExp(`invalid configuration: ${file.replace(/[/.]/g, '\\$&')}:3:\\d+: collector\\.http\\.listen: must be string`));
});
