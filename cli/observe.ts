/**
 * `driftwatch observe --source KIND [--from ADDR|FILE]`: runs one source exactly as the agent
 * would (same normalisers, lineage, identity) and prints each canonical observation as one JSON
 * line on stdout — the answer to "what does driftwatch see?". Logs and the final counters go to
 * stderr. JSON output escapes every control, separator and bidi character of attacker-controlled
 * strings (process arguments, paths, pod names), so nothing reaches the terminal raw.
 *
 *   driftwatch observe --source tetragon-grpc                          # the default unix socket
 *   driftwatch observe --source tetragon-json --from /var/log/tetragon/tetragon.log --follow
 *   driftwatch observe --source falco-http --from 0.0.0.0:8766 --token "$TOKEN"
 *   tetra getevents -o json | driftwatch observe --source tetragon-json --from -
 */
import type { Command } from 'commander';
import { hostname } from 'node:os';
import { Registry } from 'prom-client';
import type { Writable } from 'node:stream';
import type { DriftwatchConfig, SourceConfig } from '../common/config/schema.js';
import type { Logger } from '../common/logger.js';
import type { Observation, SourceKind } from '../common/model.js';
import { terminalSafeJson } from '../common/text.js';
import { configFrom, loggerFor, runUntilSignal } from './serve.js';

export interface ObserveOptions {
  source: SourceKind;
  from?: string;
  follow?: boolean;
  token?: string;
  node?: string;
  /** Stop after this many observations. */
  max?: number;
}

export interface ObserveIo {
  stdout: Writable;
  logger: Logger;
  /** Resolves to stop a long-running source (default: SIGINT/SIGTERM). */
  until?: Promise<void>;
  /** Where to say what it waits for and, when nothing came, why (stderr: stdout stays JSON lines). */
  status?: Writable;
}

/** Runs the source until its input ends (files), `max` observations, or `io.until`. */
export async function runObserve(config: Readonly<DriftwatchConfig>, opts: ObserveOptions, io: ObserveIo): Promise<{ observed: number }> {
  const { createSource, createLineage, FileSource } = await import('../agent/sources/index.js');
  const { createIdentityResolver } = await import('../agent/identity/resolver.js');
  const configured = config.agent.sources.find((s) => s.kind === opts.source);
  // The flags set keys of whichever kind is observed: createSource hands them to it.
  const cfg: SourceConfig & Record<string, unknown> = { ...configured, kind: opts.source };
  if (opts.from !== undefined) {
    if (opts.source === 'falco-http') cfg.listen = opts.from;
    else cfg.address = opts.from;
  }
  if (opts.follow !== undefined) cfg.follow = opts.follow;
  if (opts.token !== undefined) cfg.token = opts.token;

  const out = io.stdout;
  let observed = 0;
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  let drained: Promise<void> | null = null;
  const sink = {
    offer(obs: Observation): boolean {
      if (drained) return false;
      if (opts.max !== undefined && observed >= opts.max) return true;
      observed++;
      if (!out.write(terminalSafeJson(obs) + '\n')) {
        drained = new Promise<void>((resolve) => out.once('drain', () => ((drained = null), resolve())));
      }
      if (opts.max !== undefined && observed >= opts.max) stop();
      return true;
    },
    waitForCapacity: (): Promise<void> => drained ?? Promise.resolve(),
  };
  out.on('error', () => stop()); // e.g. `| head` closed the pipe

  const identity = createIdentityResolver(config.agent, io.logger);
  const source = createSource(cfg, {
    node: opts.node ?? (config.agent.node || hostname()),
    cluster: config.cluster,
    logger: io.logger,
    registry: new Registry(),
    sink,
    lineage: createLineage(config.agent),
    identity,
  });
  await identity.start();
  try {
    await source.start();
    const from = String(cfg.listen ?? cfg.address ?? 'its default address');
    io.logger.info('observing', { source: source.name, from });
    io.status?.write(source instanceof FileSource && !cfg.follow ? `reading ${opts.source} events from ${from}\n` : `waiting for ${opts.source} events from ${from} (Ctrl-C to stop)\n`);
    const ends: Promise<void>[] = [stopped];
    if (source instanceof FileSource) ends.push(source.done);
    if (io.until) ends.push(io.until);
    await Promise.race(ends);
    if (source instanceof FileSource && source.error) throw source.error;
  } finally {
    await source.close();
    await identity.close();
    io.logger.info('counters', { source: source.name, ...source.counters });
    const c = source.counters;
    if (observed === 0) io.status?.write(`no observations: ${c.seen} events seen, ${c.malformed} malformed, ${c.ignored} not process or network events\n`);
  }
  return { observed };
}

export function register(program: Command): void {
  program
    .command('observe')
    .description('print what driftwatch sees from one source, as canonical observations (JSON lines)')
    .requiredOption('-s, --source <kind>', 'a source kind, as in agent.sources[].kind (tetragon-grpc, falco-http, …)')
    .option('-f, --from <addr|file>', 'gRPC address (unix:///path or host:port), falco-http listen host:port, or a file (- = stdin)')
    .option('-c, --config <file>', 'agent configuration (node, kubernetes, and the settings of a configured source of this kind)')
    .option('--follow', 'keep reading a growing file (tetragon-json, falco-json)')
    .option('--token <token>', 'falco-http: shared token Falco must present')
    .option('--node <name>', 'node name for events that carry none (default: agent.node, else this host name)')
    .option('--max <n>', 'stop after n observations', (v) => Number.parseInt(v, 10))
    .option('--log-level <level>', 'error | warn | info | debug', 'warn')
    .action(async (opts: { source: string; from?: string; config?: string; follow?: boolean; token?: string; node?: string; max?: number; logLevel?: string }) => {
      const { SOURCE_KINDS } = await import('../agent/sources/index.js');
      if (!SOURCE_KINDS.includes(opts.source)) throw new Error(`--source must be one of ${SOURCE_KINDS.join(', ')}`);
      const { config } = await configFrom(opts);
      const logger = loggerFor(config, 'observe');
      const observeOpts: ObserveOptions = { source: opts.source, from: opts.from, follow: opts.follow, token: opts.token, node: opts.node, max: opts.max };
      const status = process.stderr;
      const isFile = opts.source.endsWith('-json') && !opts.follow;
      if (isFile) {
        await runObserve(config, observeOpts, { stdout: process.stdout, logger, status });
        return;
      }
      let stop!: () => void;
      const until = new Promise<void>((resolve) => (stop = resolve));
      const run = runObserve(config, observeOpts, { stdout: process.stdout, logger, until, status });
      await Promise.race([run, runUntilSignal({ close: async () => stop() }, logger)]);
      stop();
      await run;
    });
}
