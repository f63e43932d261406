/**
 * Alerting's clock in event time. Live, deviations' event times trail the wall clock by the
 * shipping delay; in a replay (or when an agent catches up after an outage) they run far ahead of
 * it, and the decisions must cover the same stretch of *event* time either way.
 *
 * `now()` is the newest event time seen, advanced by the wall time that passed since it was seen
 * (so the rate limit refills while nothing happens, as it would live). It never goes back: a
 * delayed node's old events do not move it.
 */
export class EventClock {
  private anchorEventMs: number | null = null;
  private anchorWallMs = 0;

  constructor(private readonly wall: () => number) {}

  observe(eventMs: number): void {
    if (!Number.isFinite(eventMs)) return;
    if (this.anchorEventMs === null || eventMs > this.now()) {
      this.anchorEventMs = eventMs;
      this.anchorWallMs = this.wall();
    }
  }

  /** Before the first event: the wall clock. */
  now(): number {
    const wall = this.wall();
    return this.anchorEventMs === null ? wall : this.anchorEventMs + Math.max(0, wall - this.anchorWallMs);
  }
}
