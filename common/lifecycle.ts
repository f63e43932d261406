/**
 * Every long-running component: `start()` resolves when it is serving; `close()` drains, flushes
 * and releases everything, is idempotent, and is awaited by whoever started it.
 */
export interface Component {
  readonly name: string;
  start(): Promise<void>;
  close(): Promise<void>;
}

/** What /readyz reports for one component. */
export interface Readiness {
  name: string;
  ready: boolean;
  detail?: string;
  /**
   * False for components whose failure degrades the process but must not take it out of its
   * Service (a failing alert receiver, an unreachable Kubernetes API): reported, never a 503.
   */
  critical?: boolean;
}

export type ReadinessProbe = () => Readiness | Readiness[];

/** Makes an async close idempotent: concurrent and repeated calls share one promise. */
export function once(fn: () => Promise<void>): () => Promise<void> {
  let p: Promise<void> | undefined;
  return () => (p ??= fn());
}
