/**
 * Which replica does the periodic work (alert sweeps and re-notification, outbox delivery and
 * housekeeping, retention): the one holding a session-level advisory lock on its own connection.
 * The lock lives exactly as long as that connection: a replica killed with -9, or cut off from the
 * database, loses it when the server sees the socket close, and the next replica's attempt (every
 * `retryMs`) takes it over — no lease to expire, no clock to trust.
 */
import pg from 'pg';
import type { Leadership } from '../contract.js';
import { LOCK_CLASS, LOCKS } from './database.js';

/** How often a follower tries to take the lock, and the leader checks it still holds its connection. */
export const LEADER_RETRY_MS = 1000;

export class AdvisoryLeadership implements Leadership {
  private client: pg.Client | undefined;
  private leading = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<(leading: boolean) => void>();
  private closed = false;
  private attempt: Promise<void> = Promise.resolve();

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly retryMs = LEADER_RETRY_MS,
  ) {}

  isLeader(): boolean {
    return this.leading;
  }

  onChange(listener: (leading: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Tries at once, then every retryMs. */
  async start(): Promise<void> {
    await this.tryOnce();
    this.timer = setInterval(() => {
      this.attempt = this.attempt.then(() => this.tryOnce());
    }, this.retryMs);
    this.timer.unref();
  }

  private async tryOnce(): Promise<void> {
    if (this.closed) return;
    try {
      if (!this.client) {
        const client = new pg.Client(this.config);
        // A dropped connection ends leadership; the next attempt connects again.
        client.on('error', () => this.lost(client));
        client.on('end', () => this.lost(client));
        await client.connect();
        this.client = client;
      }
      if (this.leading) {
        // Still connected is still holding: the lock cannot be lost while the session lives.
        await this.client.query('SELECT 1');
        return;
      }
      const r = await this.client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS ok', [LOCK_CLASS, LOCKS.leader]);
      if (r.rows[0]?.ok) this.set(true);
    } catch {
      if (this.client) this.lost(this.client);
    }
  }

  private lost(client: pg.Client): void {
    if (this.client !== client) return;
    this.client = undefined;
    client.end().catch(() => undefined);
    this.set(false);
  }

  private set(leading: boolean): void {
    if (this.leading === leading) return;
    this.leading = leading;
    for (const l of this.listeners) l(leading);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await this.attempt;
    const client = this.client;
    this.client = undefined;
    this.set(false);
    // Ending the session releases the lock: another replica takes over at its next attempt.
    await client?.end().catch(() => undefined);
  }
}
