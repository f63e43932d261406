import type { ProcessObservation, WorkloadId } from '../../common/model.js';

/** A minimal, valid process observation of `/bin/x<i>` for transport tests. */
export function processObservation(i: number, opts: { time?: number; workload?: WorkloadId; node?: string } = {}): ProcessObservation {
  return {
    kind: 'process',
    source: 'tetragon-json',
    time: opts.time ?? 1_700_000_000_000 + i,
    workload: opts.workload ?? { cluster: 'c', namespace: 'ns', kind: 'Deployment', name: 'web', container: 'nginx' },
    identitySource: 'source',
    node: opts.node ?? 'n1',
    pod: 'web-1',
    containerId: null,
    image: { name: null, digest: null },
    containerStart: null,
    preexisting: false,
    process: { exe: `/bin/x${i}`, args: '', pid: i, uid: 0, user: null, execId: `e${i}`, parentExe: null, ancestors: [], lineage: 'partial', inInitTree: null, sessionId: null },
  };
}
