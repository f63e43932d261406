import type { Command } from 'commander';
import { configFrom, loggerFor, logOverrides, runUntilSignal, withConfigOptions } from './serve.js';

export function register(program: Command): void {
  withConfigOptions(program.command('agent').description('run the node agent: read Tetragon / Falco events, filter what the baselines allow, ship the rest'))
    .option('--node <name>', 'node name (agent.node; the DaemonSet passes spec.nodeName)')
    .option('--collector <host:port>', 'collector address (agent.collector.address)')
    .action(async (opts: { config?: string; check?: boolean; logLevel?: string; node?: string; collector?: string }) => {
      const { config, overrides, deprecations } = await configFrom(opts, {
        'agent.node': { flag: '--node', value: opts.node },
        'agent.collector.address': { flag: '--collector', value: opts.collector },
      });
      if (opts.check) return void process.stdout.write('configuration ok\n');
      // Loaded on use: `driftwatch baseline list` need not load gRPC, SQLite and the sources.
      const { startAgent } = await import('../agent/main.js');
      const logger = loggerFor(config, 'agent');
      logOverrides(logger, overrides, deprecations);
      const agent = await startAgent(config, { logger });
      await runUntilSignal(agent, logger);
    });
}
