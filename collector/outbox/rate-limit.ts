/** A token bucket over wall-clock time: `max` notifications per `perMs`, refilled continuously. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly max: number,
    private readonly perMs: number,
    nowMs: number,
  ) {
    this.tokens = max;
    this.last = nowMs;
  }

  private refill(nowMs: number): void {
    const elapsed = Math.max(0, nowMs - this.last);
    this.tokens = Math.min(this.max, this.tokens + (elapsed * this.max) / this.perMs);
    this.last = nowMs;
  }

  take(nowMs: number): boolean {
    this.refill(nowMs);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** When the next token will be available. */
  nextAt(nowMs: number): number {
    this.refill(nowMs);
    return this.tokens >= 1 ? nowMs : nowMs + Math.ceil(((1 - this.tokens) * this.perMs) / this.max);
  }
}
