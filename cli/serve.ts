import type { Command } from 'commander';
import { loadConfig, type DriftwatchConfig } from '../common/config.js';
import { createLogger, type Logger } from '../common/logger.js';

/** Options every long-running command shares. */
export function withConfigOptions(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'YAML configuration file (environment DRIFTWATCH_A__B and flags override it)')
    .option('--check', 'validate the configuration and exit')
    .option('--log-level <level>', 'error | warn | info | debug');
}

export function configFrom(opts: { config?: string; logLevel?: string }, overrides: Record<string, unknown> = {}): Readonly<DriftwatchConfig> {
  return loadConfig({ file: opts.config, overrides: { 'log.level': opts.logLevel, ...overrides } });
}

export function loggerFor(config: Readonly<DriftwatchConfig>, component: string): Logger {
  return createLogger({ level: config.log.level, format: config.log.format, component });
}

/**
 * Runs until SIGTERM/SIGINT, then closes within a bounded time: drain, flush, close. A second
 * signal, or the deadline, exits at once.
 */
export async function runUntilSignal(handle: { close(): Promise<void> }, logger: Logger, graceMs = 10_000): Promise<void> {
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) {
        logger.warn('second signal: exiting now', { signal });
        process.exit(1);
      }
      stopping = true;
      logger.info('shutting down', { signal });
      const deadline = setTimeout(() => {
        logger.error('shutdown took too long: exiting', { graceMs });
        process.exit(1);
      }, graceMs);
      deadline.unref();
      handle.close().then(
        () => {
          clearTimeout(deadline);
          resolve();
        },
        (err: unknown) => {
          logger.error('error while shutting down', { error: String(err) });
          resolve();
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
