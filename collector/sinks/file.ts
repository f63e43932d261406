/** JSON lines appended to a file (`driftwatch.alert.v1`), created with mode 0600. */
import { open, type FileHandle } from 'node:fs/promises';
import { Type } from '@sinclair/typebox';
import { toJsonLines } from './document.js';
import { defineSink, type AlertNotification, type SendVerdict, type Sink, type SinkContext } from './types.js';

/** The keys of a `file` sink. */
const fileSinkFields = {
  /** The JSON-lines file to append to. */
  path: Type.Optional(Type.String({ minLength: 1 })),
};

class FileSink implements Sink {
  readonly type = 'file' as const;
  readonly maxBatch = 100;
  private handle: FileHandle | undefined;

  constructor(
    readonly name: string,
    private readonly path: string,
    private readonly ctx: SinkContext,
  ) {}

  async send(batch: readonly AlertNotification[]): Promise<SendVerdict> {
    try {
      this.handle ??= await open(this.path, 'a', 0o600);
      await this.handle.appendFile(toJsonLines(batch, this.ctx.now()), 'utf8');
      // Delivered means on disk: the outbox row is marked sent right after this.
      await this.handle.datasync();
      return { result: 'ok' };
    } catch (err) {
      // Reopen next time (the file may have been rotated away or the disk freed).
      await this.handle?.close().catch(() => undefined);
      this.handle = undefined;
      return { result: 'retry', reason: `file write failed: ${(err as NodeJS.ErrnoException).code ?? 'error'}` };
    }
  }

  async close(): Promise<void> {
    await this.handle?.close().catch(() => undefined);
    this.handle = undefined;
  }
}

export const fileSink = defineSink({
  type: 'file',
  fields: fileSinkFields,
  requireOneOf: [['path']],
  keepAlive: false,
  create: (config, ctx) => new FileSink(config.name, config.path!, ctx),
});
