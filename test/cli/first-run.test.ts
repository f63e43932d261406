/**
 * What a new user meets first on the command line: a port already in use is explained with what to
 * do, and `driftwatch observe` says what it is waiting for before anything arrives.
 */
import { createServer } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { spawnCli } from '../helpers/processes.js';

t.test('a port in use: the error says who may hold it and how to choose another', async (t) => {
  const busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => busy.close(() => resolve())));
  const port = (busy.address() as { port: number }).port;
  const collector = spawnCli(['collector'], {
    DRIFTWATCH_COLLECTOR__HTTP__LISTEN: `127.0.0.1:${port}`,
    DRIFTWATCH_COLLECTOR__GRPC__LISTEN: '127.0.0.1:0',
    DRIFTWATCH_COLLECTOR__DATA_DIR: join(t.testdir(), 'data'),
  });
  t.teardown(() => collector.stop('SIGKILL'));
  const code = await new Promise<number | null>((resolve) => collector.child.once('exit', resolve));
  t.equal(code, 1, collector.stderr());
  t.match(collector.stderr(), `another process already listens on 127.0.0.1:${port} (a running collector or demo?): stop it, or choose another port`);
});

t.test('observe says what it is waiting for while nothing arrives', async (t) => {
  const from = `unix://${join(t.testdir(), 'no-tetragon.sock')}`;
  const observe = spawnCli(['observe', '--source', 'tetragon-grpc', '--from', from], { DRIFTWATCH_AGENT__KUBERNETES__MODE: 'off' });
  t.teardown(() => observe.stop('SIGKILL'));
  await observe.waitForLog(new RegExp(`waiting for tetragon-grpc events from ${from.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(Ctrl-C to stop\\)`));
  t.pass('it says so before any event');
  t.equal(await observe.stop('SIGTERM'), 0, 'and Ctrl-C ends it cleanly');
});
