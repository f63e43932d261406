/**
 * Every Service's cluster addresses (`spec.clusterIPs`, else `spec.clusterIP`) → `<namespace>/<name>`,
 * from a cluster-wide list+watch of Services. Headless and ExternalName Services have none.
 *
 * RBAC needed: list/watch services.
 */
import { CoreV1Api, type KubeConfig, type V1Service } from '@kubernetes/client-node';
import { WatchedList } from '../../common/kube/client.js';
import { once, type Component } from '../../common/lifecycle.js';
import type { Logger } from '../../common/logger.js';
import { normaliseIp } from '../../common/model.js';

interface ServiceEntry {
  /** `<namespace>/<name>`, built once per event (lookups return it as is). */
  readonly name: string;
  readonly ips: readonly string[];
}

export class KubeServiceIndex implements Component {
  readonly name = 'kubernetes-services';
  private readonly byIp = new Map<string, ServiceEntry>();
  /** `<namespace>/<name>` → entry, to release its addresses on change or deletion. */
  private readonly byName = new Map<string, ServiceEntry>();
  private readonly watched: WatchedList<V1Service>;

  constructor(kubeConfig: KubeConfig, logger: Logger) {
    const core = kubeConfig.makeApiClient(CoreV1Api);
    this.watched = new WatchedList<V1Service>({
      kubeConfig,
      path: '/api/v1/services',
      list: () => core.listServiceForAllNamespaces(),
      what: 'service',
      logger,
      upsert: (svc) => this.upsert(svc),
      remove: (svc) => this.remove(svc),
    });
  }

  get synced(): boolean {
    return this.watched.synced;
  }

  get unsyncedSince(): number | null {
    return this.watched.unsyncedSince;
  }

  /** A (normalised) cluster address → `<namespace>/<name>`. */
  serviceWithIp(ip: string): string | undefined {
    return this.byIp.get(ip)?.name;
  }

  async start(): Promise<void> {
    this.watched.start();
  }

  close = once(async () => {
    await this.watched.close();
  });

  private upsert(svc: V1Service): void {
    const name = `${svc.metadata?.namespace ?? ''}/${svc.metadata?.name ?? ''}`;
    this.remove(svc);
    const ips = new Set<string>();
    for (const raw of [...(svc.spec?.clusterIPs ?? []), svc.spec?.clusterIP]) {
      const ip = raw === 'None' ? null : normaliseIp(raw);
      if (ip) ips.add(ip);
    }
    const entry: ServiceEntry = { name, ips: [...ips] };
    this.byName.set(name, entry);
    for (const ip of entry.ips) this.byIp.set(ip, entry);
  }

  private remove(svc: V1Service): void {
    const name = `${svc.metadata?.namespace ?? ''}/${svc.metadata?.name ?? ''}`;
    const entry = this.byName.get(name);
    if (!entry) return;
    this.byName.delete(name);
    for (const ip of entry.ips) if (this.byIp.get(ip) === entry) this.byIp.delete(ip);
  }
}
