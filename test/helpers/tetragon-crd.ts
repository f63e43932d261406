/**
 * Validates a TracingPolicy against Tetragon's own CRD schema: the openAPIV3Schema of
 * `cilium.io_tracingpolicies.yaml` (v1alpha1), vendored unchanged in
 * test/deploy/vendor/tetragon-tracingpolicy-v1alpha1.schema.json with its repository, commit and
 * path. Tetragon's own admission checks (such as whether a kernel function exists) run only in a
 * live cluster.
 */
import { vendoredCrdProblems } from './vendored-crd.js';

/** Problems of a TracingPolicy object (`path: message`), empty when the CRD schema accepts it. */
export function tracingPolicyProblems(doc: unknown): string[] {
  return vendoredCrdProblems('tetragon-tracingpolicy-v1alpha1.schema.json', doc, ['TracingPolicy', 'TracingPolicyNamespaced']);
}
