import type { Command } from 'commander';
import { configFrom, loggerFor, logOverrides, runUntilSignal, withConfigOptions } from './serve.js';

export function register(program: Command): void {
  withConfigOptions(program.command('collector').description('run the central collector: ingest from agents, learn baselines, raise deviations, serve the API and UI'))
    .option('--http-listen <host:port>', 'API / UI / metrics listener (collector.http.listen)')
    .option('--grpc-listen <host:port>', 'agent ingest listener (collector.grpc.listen)')
    .option('--data-dir <dir>', 'store directory (collector.dataDir)')
    .action(async (opts: { config?: string; check?: boolean; logLevel?: string; httpListen?: string; grpcListen?: string; dataDir?: string }) => {
      const { config, overrides, deprecations } = await configFrom(opts, {
        'collector.http.listen': { flag: '--http-listen', value: opts.httpListen },
        'collector.grpc.listen': { flag: '--grpc-listen', value: opts.grpcListen },
        'collector.dataDir': { flag: '--data-dir', value: opts.dataDir },
      });
      if (opts.check) return void process.stdout.write('configuration ok\n');
      // Loaded on use: `driftwatch baseline list` need not load gRPC, SQLite and the sources.
      const { startCollector } = await import('../collector/main.js');
      const logger = loggerFor(config, 'collector');
      logOverrides(logger, overrides, deprecations);
      const collector = await startCollector(config, { logger });
      logger.info('collector ready', { http: collector.httpPort, grpc: collector.grpcPort });
      await runUntilSignal(collector, logger);
    });
}
