import { hostname } from 'node:os';
import type { Command } from 'commander';
import { ConfigError } from '../common/config/errors.js';
import { uiBaseUrl } from '../collector/links.js';
import { sampleNotification } from '../collector/outbox/sample.js';
import { createSink, validateSinks } from '../collector/sinks/index.js';
import { configFrom } from './serve.js';

/** `driftwatch alerts test --sink NAME`: what an SRE runs while wiring a receiver up. */
export function register(program: Command): void {
  const alerts = program.command('alerts').description('alert sinks: try them out');
  alerts
    .command('test')
    .description('send one sample alert through a configured sink and report the result (exit 0 delivered, 1 not)')
    .requiredOption('--sink <name>', 'name of the sink in collector.alerting.sinks')
    .option('-c, --config <file>', 'YAML configuration file')
    .action(async (opts: { sink: string; config?: string }) => {
      const { config } = await configFrom(opts);
      const sinks = config.collector.alerting.sinks;
      validateSinks(sinks, opts.config ?? '<defaults>');
      const sinkConfig = sinks.find((s) => s.name === opts.sink);
      if (!sinkConfig) {
        const known = sinks.map((s) => s.name).join(', ') || 'none configured';
        throw new ConfigError(opts.config ?? '<defaults>', 'collector.alerting.sinks', `no sink named ${JSON.stringify(opts.sink)} (known: ${known})`);
      }
      const sink = createSink(sinkConfig, { now: Date.now, hostname: hostname(), stdout: process.stdout });
      try {
        const n = sampleNotification({ cluster: config.cluster, baseUrl: uiBaseUrl(config.collector.http), nowMs: Date.now() });
        const verdict = await sink.send([n]);
        const label = `sink ${sinkConfig.name} (${sinkConfig.type}${sinkConfig.enabled ? '' : ', disabled in the configuration'})`;
        if (verdict.result !== 'ok') throw new Error(`${label}: ${verdict.result === 'retry' ? 'failed (would be retried)' : 'rejected (would not be retried)'}: ${verdict.reason}`);
        process.stdout.write(`${label}: ok, sample alert delivered (idempotency key ${n.idempotencyKey})\n`);
      } finally {
        await sink.close();
      }
    });
}
