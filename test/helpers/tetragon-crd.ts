/**
 * Validates a TracingPolicy against Tetragon's own CRD schema: the openAPIV3Schema of
 * `cilium.io_tracingpolicies.yaml` (v1alpha1), vendored unchanged in
 * test/deploy/vendor/tetragon-tracingpolicy-v1alpha1.schema.json with its repository, commit and
 * path. The API server validates a custom resource against exactly this schema, so a policy that
 * passes here is one `kubectl apply` would accept (structurally: Tetragon's own admission checks,
 * such as whether a kernel function exists, run only in a live cluster).
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject } from 'ajv';
import { packagePath } from '../../common/paths.js';

interface VendoredCrd {
  source: Record<string, string>;
  group: string;
  kind: string;
  version: string;
  openAPIV3Schema: Record<string, unknown>;
}

let compiled: ((doc: unknown) => boolean) & { errors?: ErrorObject[] | null } = Object.assign(() => false, { errors: null });
let loaded = false;

function validator(): typeof compiled {
  if (!loaded) {
    const crd = JSON.parse(readFileSync(packagePath('test', 'deploy', 'vendor', 'tetragon-tracingpolicy-v1alpha1.schema.json'), 'utf8')) as VendoredCrd;
    // OpenAPI v3 structural schema: `nullable` and the `x-kubernetes-*` markers are Kubernetes
    // extensions ajv does not define; they constrain nothing a policy document can violate here.
    const ajv = new Ajv({ allErrors: true, strict: false });
    ajv.addKeyword({ keyword: 'x-kubernetes-preserve-unknown-fields' });
    ajv.addKeyword({ keyword: 'x-kubernetes-int-or-string' });
    ajv.addKeyword({ keyword: 'x-kubernetes-validations' });
    ajv.addKeyword({ keyword: 'x-kubernetes-list-type' });
    ajv.addKeyword({ keyword: 'x-kubernetes-map-type' });
    // OpenAPI integer formats: the type (integer) is checked; the width is the API server's concern.
    ajv.addFormat('int32', true);
    ajv.addFormat('int64', true);
    compiled = ajv.compile(crd.openAPIV3Schema);
    loaded = true;
  }
  return compiled;
}

/** Problems of a TracingPolicy object (`path: message`), empty when the CRD schema accepts it. */
export function tracingPolicyProblems(doc: unknown): string[] {
  const validate = validator();
  const problems: string[] = [];
  const o = doc as { apiVersion?: unknown; kind?: unknown } | null;
  if (o?.apiVersion !== 'cilium.io/v1alpha1') problems.push(`apiVersion: ${JSON.stringify(o?.apiVersion)} is not cilium.io/v1alpha1`);
  if (o?.kind !== 'TracingPolicy' && o?.kind !== 'TracingPolicyNamespaced') problems.push(`kind: ${JSON.stringify(o?.kind)} is not a TracingPolicy`);
  if (!validate(doc)) for (const e of validate.errors ?? []) problems.push(`${e.instancePath || '/'}: ${e.message ?? e.keyword}${e.params && 'allowedValues' in e.params ? ` (${(e.params.allowedValues as unknown[]).join(', ')})` : ''}`);
  return problems;
}
