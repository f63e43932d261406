/**
 * One delivery loop per sink (alertmanager's retry stage): drains the sink's outbox rows in
 * order, at least once, with exponential backoff on `retry` verdicts. Loops are independent, so
 * a failing receiver only ever delays its own queue. A disabled sink has no loop: its queue is
 * kept (and expires by retry.maxAge) until it is enabled again.
 */
import { Backoff, sleep } from '../../common/backoff.js';
import type { Readiness } from '../../common/lifecycle.js';
import type { Logger } from '../../common/logger.js';
import type { SendVerdict, Sink } from '../sinks/types.js';
import type { AlertingMetrics } from './metrics.js';
import type { AlertStore, OutboxRow } from './store.js';

export interface DispatcherOptions {
  store: AlertStore;
  metrics: AlertingMetrics;
  logger: Logger;
  now: () => number;
  retry: { initialMs: number; maxMs: number };
  unreadyAfterMs: number;
  /** Longest sleep of an idle loop between looks at its queue (rows queued by others wake it). */
  idlePollMs: number;
}

export class SinkDispatcher {
  private readonly abort = new AbortController();
  private readonly backoff: Backoff;
  private loop: Promise<void> | undefined;
  private woken = false;
  private wakeWaiter: (() => void) | undefined;
  private failingSinceMs: number | undefined;
  private lastReason: string | undefined;

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
    while (!signal.aborted) {
      this.woken = false;
      let rows: OutboxRow[];
      try {
        rows = store.claim(this.sink.name, now(), this.sink.maxBatch);
      } catch (err) {
        this.o.logger.error('alert outbox read failed', { sink: this.sink.name, error: (err as Error).message });
        await sleep(this.o.idlePollMs, signal);
        continue;
      }
      if (rows.length === 0) {
        const next = store.nextDue(this.sink.name);
        await this.waitForWork(next === undefined ? this.o.idlePollMs : Math.min(this.o.idlePollMs, next - now()));
        continue;
      }
      let verdict: SendVerdict;
      try {
        verdict = await this.sink.send(
          rows.map((r) => r.notification),
          signal,
        );
      } catch (err) {
        verdict = { result: 'retry', reason: `sink error: ${(err as Error).name}` };
      }
      // Interrupted by close(): the rows stay pending and go out after the restart, same keys.
      if (signal.aborted && verdict.result === 'retry') break;
      const delay = this.record(rows, verdict);
      if (delay > 0) await sleep(delay, signal);
    }
  }

  /** Stores the outcome, counts it, logs state changes only; returns the backoff delay (0 = go on). */
  private record(rows: readonly OutboxRow[], verdict: SendVerdict): number {
    const { store, metrics, logger } = this.o;
    const t = this.o.now();
    const ids = rows.map((r) => r.id);
    const sink = this.sink.name;
    metrics.sends.inc({ sink, result: verdict.result }, rows.length);
    if (verdict.result === 'ok') {
      store.markSent(ids, t);
      if (this.failingSinceMs !== undefined) logger.info('alert sink recovered', { sink, attempts: this.backoff.attempts });
      this.backoff.reset();
      this.failingSinceMs = undefined;
      this.lastReason = undefined;
      return 0;
    }
    this.failingSinceMs ??= t;
    if (verdict.reason !== this.lastReason) logger.warn(verdict.result === 'retry' ? 'alert sink failing, will retry' : 'alert sink rejected notifications', { sink, reason: verdict.reason, count: rows.length });
    this.lastReason = verdict.reason;
    if (verdict.result === 'fail') {
      store.markFailed(ids, t, verdict.reason);
      return 0;
    }
    const delay = this.backoff.next();
    store.markRetry(ids, t + delay, verdict.reason);
    return delay;
  }

  async close(): Promise<void> {
    this.abort.abort();
    await this.loop;
    await this.sink.close();
  }
}
