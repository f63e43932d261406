/**
 * Kubernetes API access shared by the agent (its node's pods) and the collector (the cluster's
 * pods and Services): how a KubeConfig is chosen from `*.kubernetes.mode`, and a list+watch that
 * survives API outages.
 */
import { KubeConfig, ListWatch, Watch, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import { Backoff, sleep } from '../backoff.js';
import type { KubernetesAccessConfig } from '../config/schema.js';
import type { Logger } from '../logger.js';
import { kubernetesAccess } from './access.js';

export { SERVICE_ACCOUNT_TOKEN } from './access.js';

/** The KubeConfig for `*.kubernetes` (see kubernetesAccess in access.ts), or null for no API. */
export function kubeConfigFor(access: Partial<KubernetesAccessConfig> | undefined): KubeConfig | null {
  const mode = kubernetesAccess(access);
  if (mode === 'off') return null;
  const kc = new KubeConfig();
  if (mode === 'kubeconfig') {
    if (access?.kubeconfig) kc.loadFromFile(access.kubeconfig);
    else kc.loadFromDefault();
    return kc;
  }
  kc.loadFromCluster();
  return kc;
}

export interface WatchedListOptions<T extends KubernetesObject> {
  kubeConfig: KubeConfig;
  /** The watch path, e.g. `/api/v1/pods`. */
  path: string;
  list: () => Promise<KubernetesListObject<T>>;
  fieldSelector?: string;
  /** What is watched, for logs (`pods`, `services`). */
  what: string;
  logger: Logger;
  upsert: (obj: T) => void;
  remove: (obj: T) => void;
}

/**
 * A ListWatch kept alive: client-node re-watches by itself when a watch ends normally (and relists
 * on 410 Gone), but gives up on any other error. This retries with backoff until closed, resuming
 * from the last resourceVersion. `synced` is true once a list has been applied and the watch is
 * established, false from the first error until a retry succeeds.
 */
export class WatchedList<T extends KubernetesObject> {
  private readonly informer: ListWatch<T>;
  private readonly abort = new AbortController();
  private readonly backoff = new Backoff({ initialMs: 500, maxMs: 30_000 });
  private failure: unknown = null;
  private wake: (() => void) | undefined;
  private running = false;
  private syncedNow = false;
  private lostAt: number | null = null;

  constructor(private readonly opts: WatchedListOptions<T>) {
    this.informer = new ListWatch<T>(opts.path, new Watch(opts.kubeConfig), opts.list, false, undefined, opts.fieldSelector);
    this.informer.on('add', opts.upsert);
    this.informer.on('update', opts.upsert);
    this.informer.on('delete', opts.remove);
    this.informer.on('error', (err: unknown) => this.fail(err));
  }

  get synced(): boolean {
    return this.syncedNow;
  }

  /** Since when (epoch ms) a once-synced list has been out of sync; null while synced or never synced. */
  get unsyncedSince(): number | null {
    return this.syncedNow ? null : this.lostAt;
  }

  /** Returns at once: an unreachable API must not block the caller's start. */
  start(): void {
    if (this.running) return;
    this.running = true;
    void this.run();
  }

  /** Not waiting for a list in flight: an API that does not answer must not hold up shutdown. */
  async close(): Promise<void> {
    this.abort.abort();
    this.wake?.();
    this.setSynced(false);
    await this.informer.stop();
  }

  private fail(err: unknown): void {
    this.failure ??= err;
    this.setSynced(false);
    this.wake?.();
  }

  private setSynced(synced: boolean): void {
    if (this.syncedNow && !synced) this.lostAt = Date.now();
    this.syncedNow = synced;
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      this.failure = null;
      // ListWatch reports list and watch failures through 'error' rather than by rejecting.
      await this.informer.start().catch((err: unknown) => this.fail(err));
      // Closed meanwhile: ListWatch opens its watch after a late list even when stopped.
      if (signal.aborted) {
        await this.informer.stop();
        return;
      }
      if (this.failure === null) {
        this.setSynced(true);
        this.backoff.reset();
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          if (this.failure !== null || signal.aborted) resolve();
        });
        this.wake = undefined;
        if (signal.aborted) return;
      }
      const delay = this.backoff.next();
      const error = this.failure instanceof Error ? this.failure.message : String(this.failure);
      this.opts.logger.warn(`kubernetes ${this.opts.what} watch failed; retrying`, { error, retryInMs: delay });
      await this.informer.stop();
      await sleep(delay, signal);
    }
  }
}
