/**
 * Messages between the replicas on one database, over PostgreSQL's LISTEN/NOTIFY: a replica
 * publishes what its committed transaction changed, every other replica hears it on its own
 * listening connection (re-established every `retryMs` when lost). Delivery is best effort, as
 * NOTIFY is: a replica that was disconnected misses what was said meanwhile, which is why nothing
 * durable travels this way (the store holds it; this only makes pushes and live views prompt).
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { MAX_REPLICA_MESSAGE_BYTES, type ReplicaChannel } from '../contract.js';

const CHANNEL = 'driftwatch_changes';

export class NotifyChannel implements ReplicaChannel {
  /** Tells this replica's own messages (it hears them too) from the others'. */
  private readonly origin = randomUUID();
  private client: pg.Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<(message: string) => void>();
  private closed = false;
  private connecting: Promise<void> = Promise.resolve();

  constructor(
    private readonly pool: pg.Pool,
    private readonly config: pg.ClientConfig,
    private readonly retryMs: number,
  ) {}

  async start(): Promise<void> {
    await this.connect();
    this.timer = setInterval(() => {
      if (!this.client) this.connecting = this.connecting.then(() => this.connect());
    }, this.retryMs);
    this.timer.unref();
  }

  private async connect(): Promise<void> {
    if (this.closed || this.client) return;
    const client = new pg.Client(this.config);
    const lost = (): void => {
      if (this.client !== client) return;
      this.client = undefined;
      client.end().catch(() => undefined);
    };
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (n) => {
      const payload = n.payload ?? '';
      const split = payload.indexOf('|');
      if (split < 0 || payload.slice(0, split) === this.origin) return;
      const message = payload.slice(split + 1);
      for (const l of this.listeners) l(message);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
      this.client = client;
    } catch {
      client.end().catch(() => undefined);
    }
  }

  async publish(message: string): Promise<void> {
    if (Buffer.byteLength(message) > MAX_REPLICA_MESSAGE_BYTES) throw new Error(`replica message of ${Buffer.byteLength(message)} bytes exceeds NOTIFY's limit`);
    await this.pool.query('SELECT pg_notify($1, $2)', [CHANNEL, `${this.origin}|${message}`]);
  }

  subscribe(listener: (message: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await this.connecting;
    const client = this.client;
    this.client = undefined;
    this.listeners.clear();
    await client?.end().catch(() => undefined);
  }
}
