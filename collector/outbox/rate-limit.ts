/**
 * A token bucket: `max` notifications per `perMs`, refilled continuously. Its clock is the caller's
 * (alerting passes event time, collector/outbox/event-clock.ts); it starts full at the first time
 * it is asked, and a time earlier than one already seen refills nothing.
 */
export class TokenBucket {
  private tokens: number;
  private last: number | null = null;

  constructor(
    private readonly max: number,
    private readonly perMs: number,
  ) {
    this.tokens = max;
  }

  private refill(nowMs: number): void {
    const elapsed = this.last === null ? 0 : Math.max(0, nowMs - this.last);
    this.tokens = Math.min(this.max, this.tokens + (elapsed * this.max) / this.perMs);
    this.last = Math.max(this.last ?? nowMs, nowMs);
  }

  take(nowMs: number): boolean {
    this.refill(nowMs);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** How long (on the bucket's clock) until the next token. */
  waitMs(nowMs: number): number {
    this.refill(nowMs);
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) * this.perMs) / this.max);
  }
}
