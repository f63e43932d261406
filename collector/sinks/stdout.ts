/** JSON lines on the collector's stdout (`driftwatch.alert.v1`), for log pipelines. */
import { toJsonLines } from './document.js';
import type { AlertNotification, SendVerdict, Sink, SinkContext, SinkDefinition } from './types.js';

class StdoutSink implements Sink {
  readonly type = 'stdout' as const;
  readonly maxBatch = 100;

  constructor(
    readonly name: string,
    private readonly ctx: SinkContext,
  ) {}

  send(batch: readonly AlertNotification[]): Promise<SendVerdict> {
    return new Promise((resolve) => {
      try {
        // Waiting for the write callback makes a full pipe back-pressure the queue, not memory.
        this.ctx.stdout.write(toJsonLines(batch, this.ctx.now()), (err) =>
          resolve(err ? { result: 'retry', reason: `stdout write failed: ${(err as NodeJS.ErrnoException).code ?? 'error'}` } : { result: 'ok' }),
        );
      } catch (err) {
        resolve({ result: 'retry', reason: `stdout write failed: ${(err as NodeJS.ErrnoException).code ?? 'error'}` });
      }
    });
  }

  async close(): Promise<void> {}
}

export const stdoutSink: SinkDefinition = {
  type: 'stdout',
  schema: { requireOneOf: [], accepts: [] },
  keepAlive: false,
  create: (config, ctx) => new StdoutSink(config.name, ctx),
};
