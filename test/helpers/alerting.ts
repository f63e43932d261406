/** Shared pieces of the alerting tests: deviations, configuration, a recording HTTP receiver. */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { loadConfig, type DriftwatchConfig } from '../../cli/config.js';
import type { Deviation, DeviationStatus } from '../../common/deviations.js';
import { silentLogger } from '../../common/logger.js';
import type { ProcessObservation, WorkloadId } from '../../common/model.js';
import { CollectorBus } from '../../collector/events.js';
import { createAlerting, type AlertingComponent } from '../../collector/outbox/index.js';
import type { Store } from '../../collector/store/contract.js';
import type { AlertDocumentV1 } from '../../collector/sinks/document.js';

export const T0 = Date.parse('2026-11-30T10:00:00Z');

export const WORKLOAD: WorkloadId = { cluster: 'test', namespace: 'payments', kind: 'Deployment', name: 'api', container: 'app' };

export function processSample(exe: string, args: string, time: number, workload: WorkloadId = WORKLOAD): ProcessObservation {
  return {
    kind: 'process',
    source: 'tetragon-grpc',
    time,
    workload,
    identitySource: 'source',
    node: 'node-1',
    pod: 'api-5d9c7-abcde',
    containerId: 'abcdef123456',
    image: { name: 'registry.example/api:2.0', digest: null },
    containerStart: null,
    preexisting: false,
    process: {
      exe,
      args,
      pid: 42,
      uid: 0,
      user: 'root',
      execId: 'x',
      parentExe: '/bin/sh',
      ancestors: [{ exe: '/bin/sh', args: `-c ${exe} ${args}`, pid: 41, execId: 'y' }],
      lineage: 'complete',
      inInitTree: true,
      sessionId: null,
    },
  };
}

let nextId = 1;

export function deviation(over: Partial<Deviation> = {}): Deviation {
  const id = over.id ?? nextId++;
  const exe = (over.item?.exe as string | undefined) ?? `/usr/bin/tool-${id}`;
  const first = over.firstSeenMs ?? T0;
  return {
    id,
    baselineId: 1,
    workload: WORKLOAD,
    itemKey: `process:${exe}`,
    kind: 'process',
    // Below grouping.immediateSeverity (high): such a deviation waits for the grouping decision.
    severity: 'medium',
    severityReason: 'new executable in an active baseline',
    status: 'open',
    summary: `new process ${exe} in payments/api`,
    item: { exe, args: '' },
    firstSeenMs: first,
    lastSeenMs: first,
    count: 1,
    pods: ['api-5d9c7-abcde'],
    nodes: ['node-1'],
    image: 'registry.example/api:2.0',
    samples: [processSample(exe, '--flag', first)],
    statusBy: null,
    statusAt: null,
    statusComment: null,
    createdAt: new Date(first).toISOString(),
    updatedAt: new Date(first).toISOString(),
    ...over,
  };
}

export function withStatus(d: Deviation, status: DeviationStatus): Deviation {
  return { ...d, status, statusBy: 'alice', statusAt: new Date().toISOString() };
}

/** A full configuration with `collector.alerting` set (defaults filled in by the schema). */
export function alertingConfig(alerting: Record<string, unknown>): Readonly<DriftwatchConfig> {
  return loadConfig({ env: {}, overrides: { cluster: 'test', 'collector.http.externalUrl': 'https://driftwatch.example', 'collector.alerting': alerting } });
}

/** Small timings so that tests are fast. */
export const FAST = {
  grouping: { threshold: 5, window: '1m', wait: '30ms', maxListed: 50 },
  retry: { initial: '20ms', max: '100ms', maxAge: '1h' },
  rateLimit: { max: 1000, per: '1m' },
  updateInterval: '100ms',
  unreadyAfter: '50ms',
};

export function startAlerting(
  store: Store,
  bus: CollectorBus,
  config: Readonly<DriftwatchConfig>,
  extra: { stdout?: NodeJS.WritableStream; clock?: { now(): number }; registry?: Registry; deviations?: { getDeviation(id: number): Promise<Deviation | undefined> } } = {},
): AlertingComponent {
  return createAlerting({ store, bus, config, logger: silentLogger(), registry: new Registry(), ...extra });
}

export interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A receiver that records every request and answers from `respond` (default 200). */
export class Receiver {
  readonly requests: Received[] = [];
  respond: (req: Received, index: number) => number | { status: number; body?: string; hang?: boolean } = () => 200;
  private server: Server | undefined;
  private waiters: { n: number; resolve: () => void }[] = [];

  async start(port = 0): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const r: Received = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
        const index = this.requests.length;
        this.requests.push(r);
        const answer = this.respond(r, index);
        const { status, body, hang } = typeof answer === 'number' ? { status: answer, body: undefined, hang: false } : answer;
        if (!hang) {
          res.writeHead(status, { 'content-type': 'text/plain' });
          res.end(body ?? '');
        }
        for (const w of [...this.waiters]) {
          if (this.requests.length >= w.n) {
            this.waiters.splice(this.waiters.indexOf(w), 1);
            w.resolve();
          }
        }
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
  }

  get port(): number {
    return (this.server!.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Resolves once `n` requests have arrived in total. */
  waitFor(n: number): Promise<void> {
    if (this.requests.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }

  json<T = Record<string, unknown>>(i: number): T {
    return JSON.parse(this.requests[i]!.body.toString('utf8')) as T;
  }

  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = undefined;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

/**
 * Polls until `check` is true. The limit only turns a hang into a readable failure well before
 * tap's timeout; it is not a timing assertion.
 */
export async function until(check: () => boolean | Promise<boolean>, limitMs = 20_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not reached within ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The documents a file sink wrote so far (none while the file does not exist yet). */
export function readAlertFile(path: string): AlertDocumentV1[] {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').filter(Boolean).map((l) => JSON.parse(l) as AlertDocumentV1);
  } catch {
    return [];
  }
}
