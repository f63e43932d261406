/**
 * The console's deep links, built in one place: alerts of every sink, the API's `links` and the
 * CLI all point people at these pages. They are path routes (`/ui/deviations/7`); the API server
 * sends such a path to the UI's hash route, so links stay valid however the UI routes inside.
 */
import { hostname } from 'node:os';
import type { WorkloadId } from '../common/model.js';
import { parseHostPort } from '../common/net.js';

/**
 * Where people open the console: `collector.http.externalUrl` (what a proxy or ingress exposes;
 * the deprecated `publicUrl` is moved to it when the configuration loads), else the HTTP
 * listener's own address, with https when the listener serves TLS.
 */
export function uiBaseUrl(http: { listen: string; externalUrl?: string; tls?: { cert?: string } }): string {
  if (http.externalUrl) return http.externalUrl.replace(/\/+$/, '');
  const { host, port } = parseHostPort(http.listen);
  const shown = host === '0.0.0.0' || host === '::' ? hostname() : host.includes(':') ? `[${host}]` : host;
  return `${http.tls?.cert ? 'https' : 'http'}://${shown}:${port}`;
}

export function deviationUrl(base: string, id: number): string {
  return `${base}/ui/deviations/${id}`;
}

export function baselineUrl(base: string, id: number): string {
  return `${base}/ui/baselines/${id}`;
}

/** A workload's deviations, filtered the way the deviations page and API filter (namespace + name). */
export function workloadDeviationsUrl(base: string, w: WorkloadId | null): string {
  if (!w) return `${base}/ui/deviations`;
  return `${base}/ui/deviations?${new URLSearchParams({ namespace: w.namespace, workload: w.name }).toString()}`;
}
