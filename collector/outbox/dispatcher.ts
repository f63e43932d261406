/**
 * One delivery loop per sink (alertmanager's retry stage): drains the sink's outbox rows in
 * order, at least once, with exponential backoff on `retry` verdicts. Loops are independent, so
 * a failing receiver only ever delays its own queue. A disabled sink has no loop: its queue is
 * kept (and expires by retry.maxAge) until it is enabled again.
 *
 * Delivery needs only reads of the queue: when the store refuses writes (a full disk), rows keep
 * going out and what became of them is written once the store takes writes again.
 */
import { Backoff, sleep } from '../../common/backoff.js';
import type { Readiness } from '../../common/lifecycle.js';
import type { Logger } from '../../common/logger.js';
import type { SendVerdict, Sink } from '../sinks/types.js';
import type { AlertingMetrics } from './metrics.js';
import type { OutboxRepository } from '../store/contract.js';
import type { OutboxRow } from '../store/outbox.js';

/** Rows read per look at the queue (sent maxBatch at a time, marked delivered together). */
const PREFETCH = 32;

/** Rows delivered (or refused for good by the receiver) whose outcome the store could not take yet. */
interface UnrecordedOutcome {
  ids: number[];
  atMs: number;
  /** The receiver's reason when it refused them for good; absent when delivered. */
  failed?: string;
}

export interface DispatcherOptions {
  store: OutboxRepository;
  metrics: AlertingMetrics;
  logger: Logger;
  now: () => number;
  retry: { initialMs: number; maxMs: number };
  unreadyAfterMs: number;
  /** Longest sleep of an idle loop between looks at its queue (rows queued by others wake it). */
  idlePollMs: number;
  /**
   * Whether this collector delivers now: of several replicas on one database only the leader does
   * (each row once); the others look again every idle poll, so a new leader takes over within one.
   * Absent: always (one collector).
   */
  leading?: () => boolean;
}

export class SinkDispatcher {
  private readonly abort = new AbortController();
  private readonly backoff: Backoff;
  private loop: Promise<void> | undefined;
  private woken = false;
  private wakeWaiter: (() => void) | undefined;
  private failingSinceMs: number | undefined;
  private lastReason: string | undefined;
  /**
   * Kept in memory until written, and never sent again by this process meanwhile (after a
   * restart they are, same keys: at least once). Bounded by the sink's queue, which cannot grow
   * while the store refuses writes.
   */
  private readonly unrecorded: UnrecordedOutcome[] = [];
  private readonly unrecordedIds = new Set<number>();

  constructor(
    readonly sink: Sink,
    readonly enabled: boolean,
    private readonly o: DispatcherOptions,
  ) {
    this.backoff = new Backoff({ initialMs: o.retry.initialMs, maxMs: o.retry.maxMs, multiplier: 2, jitter: 0.2 });
  }

  start(): void {
    if (this.enabled && !this.loop) this.loop = this.run();
  }

  /** New rows were queued for this sink. */
  wake(): void {
    this.woken = true;
    this.wakeWaiter?.();
  }

  get failing(): boolean {
    return this.failingSinceMs !== undefined && this.o.now() - this.failingSinceMs >= this.o.unreadyAfterMs;
  }

  readiness(): Readiness {
    const name = `alert-sink:${this.sink.name}`;
    if (!this.enabled) return { name, ready: true, detail: 'disabled (queue kept)' };
    if (this.failingSinceMs === undefined) return { name, ready: true };
    const seconds = Math.round((this.o.now() - this.failingSinceMs) / 1000);
    return { name, ready: !this.failing, detail: `failing for ${seconds} s: ${this.lastReason ?? 'unknown'}` };
  }

  private waitForWork(ms: number): Promise<void> {
    if (this.woken || this.abort.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wakeWaiter = undefined;
        this.abort.signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      timer.unref?.();
      this.wakeWaiter = done;
      this.abort.signal.addEventListener('abort', done, { once: true });
    });
  }

  private async run(): Promise<void> {
    const { store, now } = this.o;
    const signal = this.abort.signal;
    const prefetch = Math.max(this.sink.maxBatch, PREFETCH);
    while (!signal.aborted) {
      this.woken = false;
      if (this.o.leading && !this.o.leading()) {
        await this.waitForWork(this.o.idlePollMs);
        continue;
      }
      let rows: OutboxRow[];
      try {
        await this.recordUnrecorded();
        // Rows whose outcome is not written yet still look pending: read past them.
        rows = (await store.claim(this.sink.name, now(), prefetch + this.unrecordedIds.size)).filter((r) => !this.unrecordedIds.has(r.id)).slice(0, prefetch);
      } catch (err) {
        this.o.logger.error('alert outbox read failed', { sink: this.sink.name, error: (err as Error).message });
        await sleep(this.o.idlePollMs, signal);
        continue;
      }
      if (rows.length === 0) {
        // The earliest due row may be one whose outcome is unwritten: look again after the idle poll.
        const next = this.unrecorded.length > 0 ? undefined : await store.nextDue(this.sink.name);
        await this.waitForWork(next === undefined ? this.o.idlePollMs : Math.min(this.o.idlePollMs, next - now()));
        continue;
      }
      // Send chunk after chunk; mark what was delivered in one transaction. A crash in between
      // re-sends those rows after the restart (at least once; receivers deduplicate by key).
      const delivered: OutboxRow[] = [];
      let failed: { chunk: OutboxRow[]; verdict: Exclude<SendVerdict, { result: 'ok' }> } | undefined;
      for (let i = 0; i < rows.length && !signal.aborted; i += this.sink.maxBatch) {
        const chunk = rows.slice(i, i + this.sink.maxBatch);
        const verdict = await this.attempt(chunk, signal);
        if (verdict.result === 'ok') delivered.push(...chunk);
        else {
          failed = { chunk, verdict };
          break;
        }
      }
      if (delivered.length > 0) await this.recordDelivered(delivered);
      if (!failed) continue;
      // Interrupted by close(): the rows stay pending and go out after the restart, same keys.
      if (signal.aborted && failed.verdict.result === 'retry') break;
      const delay = await this.recordFailure(failed.chunk, failed.verdict);
      if (delay > 0) await sleep(delay, signal);
    }
  }

  private async attempt(chunk: readonly OutboxRow[], signal: AbortSignal): Promise<SendVerdict> {
    try {
      return await this.sink.send(
        chunk.map((r) => r.notification),
        signal,
      );
    } catch (err) {
      return { result: 'retry', reason: `sink error: ${(err as Error).name}` };
    }
  }

  private async recordDelivered(rows: readonly OutboxRow[]): Promise<void> {
    const t = this.o.now();
    await this.record({ ids: rows.map((r) => r.id), atMs: t });
    this.o.metrics.sends.inc({ sink: this.sink.name, result: 'ok' }, rows.length);
    for (const r of rows) this.o.metrics.delivery.observe({ sink: this.sink.name }, Math.max(0, t - r.createdMs) / 1000);
    if (this.failingSinceMs !== undefined) this.o.logger.info('alert sink recovered', { sink: this.sink.name, attempts: this.backoff.attempts });
    this.backoff.reset();
    this.failingSinceMs = undefined;
    this.lastReason = undefined;
  }

  /** Stores the failure, counts it, logs changes only; returns the backoff delay (0 = go on). */
  private async recordFailure(rows: readonly OutboxRow[], verdict: Exclude<SendVerdict, { result: 'ok' }>): Promise<number> {
    const { store, metrics, logger } = this.o;
    const t = this.o.now();
    const ids = rows.map((r) => r.id);
    const sink = this.sink.name;
    metrics.sends.inc({ sink, result: verdict.result }, rows.length);
    this.failingSinceMs ??= t;
    if (verdict.reason !== this.lastReason) logger.warn(verdict.result === 'retry' ? 'alert sink failing, will retry' : 'alert sink rejected notifications', { sink, reason: verdict.reason, count: rows.length });
    this.lastReason = verdict.reason;
    if (verdict.result === 'fail') {
      await this.record({ ids, atMs: t, failed: verdict.reason });
      return 0;
    }
    const delay = this.backoff.next();
    try {
      await store.markRetry(ids, t + delay, verdict.reason);
    } catch (err) {
      // The rows stay pending as they were; this loop's own backoff still spaces the retries.
      logger.warn('alert outbox: could not record a retry', { sink, error: (err as Error).message });
    }
    return delay;
  }

  /** Writes an outcome, or keeps it until the store takes writes again (it is not sent twice meanwhile). */
  private async record(outcome: UnrecordedOutcome): Promise<void> {
    try {
      await this.write(outcome);
    } catch (err) {
      if (this.unrecorded.length === 0) this.o.logger.warn('alert outbox: delivery outcomes cannot be written, kept until the store takes writes again', { sink: this.sink.name, error: (err as Error).message });
      this.unrecorded.push(outcome);
      for (const id of outcome.ids) this.unrecordedIds.add(id);
    }
  }

  /** Writes the outcomes kept while the store refused writes, oldest first; stops at the first failure. */
  private async recordUnrecorded(): Promise<void> {
    if (this.unrecorded.length === 0) return;
    while (this.unrecorded.length > 0) {
      const outcome = this.unrecorded[0]!;
      try {
        await this.write(outcome);
      } catch {
        return;
      }
      this.unrecorded.shift();
      for (const id of outcome.ids) this.unrecordedIds.delete(id);
    }
    this.o.logger.info('alert outbox: delivery outcomes kept in memory are written', { sink: this.sink.name });
  }

  private write(o: UnrecordedOutcome): Promise<void> {
    return o.failed === undefined ? this.o.store.markSent(o.ids, o.atMs) : this.o.store.markFailed(o.ids, o.atMs, o.failed);
  }

  async close(): Promise<void> {
    this.abort.abort();
    await this.loop;
    // Last chance to write them; otherwise they are sent again after the restart (same keys).
    await this.recordUnrecorded();
    await this.sink.close();
  }
}
