import type { Command } from 'commander';
import type { ConfigDeprecation, ConfigOverride, LoadedConfig } from '../common/config/load.js';
import type { DriftwatchConfig } from '../common/config/schema.js';
import { createLogger, type Logger } from '../common/logger.js';

/** Options every long-running command shares. */
export function withConfigOptions(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'YAML configuration file (environment DRIFTWATCH_A__B and flags override it)')
    .option('--check', 'validate the configuration and exit')
    .option('--log-level <level>', 'error | warn | info | debug');
}

/** A flag that sets a configuration key (by its dotted path), and its value when given. */
export interface FlagSetting {
  flag: string;
  value: unknown;
}

/** The configuration file, the environment, then `--log-level` and the command's own flags. */
export async function configFrom(opts: { config?: string; logLevel?: string }, flags: Record<string, FlagSetting> = {}): Promise<LoadedConfig> {
  // Loaded on use: the schema is composed from every source and sink, which `driftwatch baseline
  // list` does not need to load.
  const { loadConfigWithOverrides } = await import('./config.js');
  const settings = Object.entries({ 'log.level': { flag: '--log-level', value: opts.logLevel }, ...flags });
  return loadConfigWithOverrides({
    file: opts.config,
    overrides: Object.fromEntries(settings.map(([key, s]) => [key, s.value])),
    overrideSources: Object.fromEntries(settings.map(([key, s]) => [key, `flag ${s.flag}`])),
  });
}

export function loggerFor(config: Readonly<DriftwatchConfig>, component: string): Logger {
  return createLogger({ level: config.log.level, format: config.log.format, component });
}

/**
 * Says once, at start, which keys the environment and flags set over the file — an override is
 * otherwise silent. Keys and where they came from only: never a value, which may be a secret.
 */
export function logOverrides(logger: Logger, overrides: readonly ConfigOverride[], deprecations: readonly ConfigDeprecation[] = []): void {
  for (const o of overrides) logger.info('configuration override', { key: o.key, source: o.source });
  for (const d of deprecations) logger.warn(`configuration key ${d.key} is deprecated: it still works, but rename it to ${d.replacement}`, { key: d.key, replacement: d.replacement });
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
