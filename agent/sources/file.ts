/**
 * File / stdin source: JSON lines as `tetra getevents -o json` and Tetragon's export file print
 * them (`tetragon-json`), or as Falco's JSON file/stdout output prints them (`falco-json`).
 * `address` is a path or `-` for stdin; `follow: true` keeps reading a growing file like tail -f:
 * from its current end (an agent restart must not replay the whole log), from the top of a file
 * that appears later or replaces it (rotation, truncation). Reading waits whenever the sink is
 * full, so a replay never outruns the pipeline; `speed: N` also paces it to N× the recorded event
 * time. `done` resolves at end of input (not following).
 */
import { open, stat, type FileHandle } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { sleep } from '../../common/backoff.js';
import { Type } from '@sinclair/typebox';
import { once } from '../../common/lifecycle.js';
import type { NormaliseContext, NormaliseResult } from '../normalise/context.js';
import { normaliseFalco, type FalcoAlert } from '../normalise/falco.js';
import { normaliseTetragon, type TetragonEvent } from '../normalise/tetragon.js';
import { defineSource, type SourceConfigOf } from './definition.js';
import { RuntimeSource, type SourceDeps } from './runtime.js';

/** The keys of `tetragon-json` and `falco-json` sources. */
export const fileSourceFields = {
  /** A path, or `-` for stdin (the default). */
  address: Type.Optional(Type.String({ minLength: 1 })),
  /** Keep reading the file as it grows (like tail -f). */
  follow: Type.Optional(Type.Boolean()),
  /** Replay at this many times the recorded pace (omitted: as fast as the pipeline takes it). */
  speed: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
};
export type FileSourceConfig = SourceConfigOf<typeof fileSourceFields>;

const FOLLOW_POLL_MS = 250;
/** A longer line is malformed (protects memory against a file without newlines). */
const MAX_LINE_BYTES = 4 * 1024 * 1024;

export class FileSource extends RuntimeSource {
  private readonly path: string;
  private readonly follow: boolean;
  private readonly normalise: (value: unknown, ctx: NormaliseContext) => NormaliseResult;
  private readonly abort = new AbortController();
  /** The followed file did not exist at the first attempt: read it from its start. */
  private appearedLate = false;
  private loop: Promise<void> | undefined;
  private resolveDone!: () => void;
  /** Resolves when the input is exhausted (never while following), or on close. */
  readonly done = new Promise<void>((resolve) => (this.resolveDone = resolve));
  /** Set when reading failed (file missing…). */
  error: Error | null = null;
  private readonly speed: number | null;
  private replay: { firstEventMs: number; startedAt: number } | null = null;

  constructor(cfg: FileSourceConfig, deps: SourceDeps) {
    super(cfg, deps);
    this.path = cfg.address ?? '-';
    this.follow = cfg.follow === true && this.path !== '-';
    this.speed = cfg.speed ?? null;
    this.normalise =
      cfg.kind === 'falco-json'
        ? (v, ctx) => normaliseFalco(v as FalcoAlert, ctx)
        : (v, ctx) => normaliseTetragon(v as TetragonEvent, ctx);
  }

  async start(): Promise<void> {
    this.loop ??= this.run().finally(() => {
      this.runtime.connected = false;
      this.resolveDone();
    });
  }

  private async run(): Promise<void> {
    try {
      this.runtime.connected = true;
      const chunks = this.path === '-' ? (process.stdin as AsyncIterable<Buffer>) : this.readFile();
      await this.consume(chunks);
    } catch (err) {
      this.error = err as Error;
      this.runtime.deps.logger.error('file source failed', { source: this.name, path: this.path, error: (err as Error).message });
    }
  }

  private async consume(chunks: AsyncIterable<Buffer>): Promise<void> {
    let pending: Buffer | null = null;
    /** Inside a line already counted as too large: its rest is skipped up to the next newline. */
    let skipping = false;
    for await (const chunk of chunks) {
      if (this.abort.signal.aborted) return;
      let buf: Buffer = pending ? Buffer.concat([pending, chunk]) : chunk;
      let start = 0;
      for (let nl = buf.indexOf(10, start); nl >= 0; nl = buf.indexOf(10, start)) {
        if (skipping) skipping = false;
        else await this.line(buf.subarray(start, nl));
        start = nl + 1;
      }
      buf = buf.subarray(start);
      if (skipping) buf = Buffer.alloc(0);
      else if (buf.length > MAX_LINE_BYTES) {
        this.runtime.malformed('too-large');
        buf = Buffer.alloc(0);
        skipping = true;
      }
      pending = buf.length ? Buffer.from(buf) : null;
    }
    if (pending) await this.line(pending);
  }

  private async line(bytes: Buffer): Promise<void> {
    let text = bytes.toString('utf8');
    if (text.endsWith('\r')) text = text.slice(0, -1);
    if (text.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      this.runtime.malformed();
      return;
    }
    const obs = this.runtime.normalise(this.normalise, value);
    if (!obs) return;
    if (this.speed) await this.pace(obs.time);
    const sink = this.runtime.deps.sink;
    while (!sink.offer(obs)) {
      if (this.abort.signal.aborted) return this.runtime.dropped();
      await sink.waitForCapacity();
    }
  }

  /**
   * Replays event time `speed` times faster than it was recorded: the collector's answers (edge
   * baselines) then reach the agent while the replay runs, as they would live.
   */
  private async pace(eventMs: number): Promise<void> {
    if (this.replay === null) {
      this.replay = { firstEventMs: eventMs, startedAt: performance.now() };
      return;
    }
    const due = this.replay.startedAt + (eventMs - this.replay.firstEventMs) / this.speed!;
    const wait = due - performance.now();
    // A referenced timer (unlike backoff's sleep): a replay in progress keeps the process alive.
    if (wait > 1) await delay(wait, undefined, { signal: this.abort.signal }).catch(() => undefined);
  }

  /** Opens the file; when following, waits for it to appear (Tetragon creates its export file late). */
  private async openFile(): Promise<FileHandle | null> {
    for (;;) {
      try {
        return await open(this.path, 'r');
      } catch (err) {
        this.appearedLate = true;
        if (!this.follow || (err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        this.runtime.connected = false;
        await sleep(FOLLOW_POLL_MS * 4, this.abort.signal);
        if (this.abort.signal.aborted) return null;
      }
    }
  }

  /**
   * The file's bytes as they come. Following, an existing file is read from its current end
   * (like tail -f: an agent restart must not replay the whole log), a file that appears or
   * replaces it (rotation) from its start.
   */
  private async *readFile(): AsyncGenerator<Buffer> {
    let fh: FileHandle | null = await this.openFile();
    if (!fh) return;
    this.runtime.connected = true;
    let pos = this.follow && !this.appearedLate ? (await fh.stat()).size : 0;
    const buf = Buffer.allocUnsafe(256 * 1024);
    try {
      while (!this.abort.signal.aborted) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
        if (bytesRead > 0) {
          pos += bytesRead;
          yield Buffer.from(buf.subarray(0, bytesRead));
          continue;
        }
        if (!this.follow) return;
        await sleep(FOLLOW_POLL_MS, this.abort.signal);
        const [now, cur] = await Promise.all([stat(this.path).catch(() => null), fh.stat()]);
        if (now && (now.ino !== cur.ino || now.size < pos)) {
          await fh.close();
          fh = null;
          fh = await this.openFile();
          if (!fh) return;
          pos = 0;
        }
      }
    } finally {
      await fh?.close();
    }
  }

  close = once(async () => {
    this.abort.abort();
    if (this.path === '-') process.stdin.pause();
    // Stdin may never end on its own: do not wait for it.
    if (this.path !== '-') await this.loop;
    this.resolveDone();
    this.runtime.detach();
  });
}

export const tetragonJsonSource = defineSource({ kind: 'tetragon-json', fields: fileSourceFields, create: (cfg, deps) => new FileSource(cfg, deps) });
export const falcoJsonSource = defineSource({ kind: 'falco-json', fields: fileSourceFields, create: (cfg, deps) => new FileSource(cfg, deps) });
