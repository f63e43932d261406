/** A collector whose API listens in plaintext beyond loopback says so at start. */
import t from 'tap';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { loadConfig } from '../../../cli/config.js';
import { startCollector } from '../../../collector/main.js';
import { createLogger } from '../../../common/logger.js';

t.test('plaintext HTTP on a non-loopback address is warned about; on loopback it is not', async (t) => {
  const dir = t.testdir();
  for (const [listen, warned] of [['0.0.0.0:0', true], ['127.0.0.1:0', false]] as const) {
    const stream = new PassThrough();
    let log = '';
    stream.on('data', (c: Buffer) => (log += c.toString('utf8')));
    const config = loadConfig({ env: {}, overrides: { 'collector.dataDir': join(dir, listen.replace(/[:.]/g, '-')), 'collector.grpc.listen': '127.0.0.1:0', 'collector.http.listen': listen } });
    const c = await startCollector(config, { logger: createLogger({ format: 'json', stream }) });
    await c.close();
    t.equal(log.includes('listens in plaintext on a non-loopback address'), warned, `${listen}: ${warned ? 'warned' : 'quiet'}`);
  }
});
