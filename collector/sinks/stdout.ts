/** JSON lines on the collector's stdout (`driftwatch.alert.v1`), for log pipelines. */
import { toJsonLines } from './document.js';
import { defineSink, type AlertNotification, type SendVerdict, type Sink, type SinkContext } from './types.js';

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

export const stdoutSink = defineSink({
  type: 'stdout',
  fields: {},
  requireOneOf: [],
  keepAlive: false,
  create: (config, ctx) => new StdoutSink(config.name, ctx),
});
