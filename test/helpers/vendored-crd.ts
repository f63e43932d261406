/**
 * Validates custom resources against their CRD's own schema: the openAPIV3Schema of one version,
 * vendored unchanged in test/deploy/vendor/<file> with its repository, commit and path. The API
 * server validates a custom resource against exactly this schema, so a document that passes here
 * is one `kubectl apply` would accept (structurally: the operator's own admission webhooks run
 * only in a live cluster).
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

type Validate = ((doc: unknown) => boolean) & { errors?: ErrorObject[] | null };

const compiled = new Map<string, { crd: VendoredCrd; validate: Validate }>();

function validator(file: string): { crd: VendoredCrd; validate: Validate } {
  let v = compiled.get(file);
  if (!v) {
    const crd = JSON.parse(readFileSync(packagePath('test', 'deploy', 'vendor', file), 'utf8')) as VendoredCrd;
    // OpenAPI v3 structural schema: `nullable` and the `x-kubernetes-*` markers are Kubernetes
    // extensions ajv does not define; they constrain nothing a document can violate here
    // (CEL rules in x-kubernetes-validations run in the API server only).
    const ajv = new Ajv({ allErrors: true, strict: false });
    for (const keyword of ['x-kubernetes-preserve-unknown-fields', 'x-kubernetes-int-or-string', 'x-kubernetes-validations', 'x-kubernetes-list-type', 'x-kubernetes-list-map-keys', 'x-kubernetes-map-type']) ajv.addKeyword({ keyword });
    // OpenAPI integer formats: the type (integer) is checked; the width is the API server's concern.
    ajv.addFormat('int32', true);
    ajv.addFormat('int64', true);
    v = { crd, validate: ajv.compile(crd.openAPIV3Schema) as Validate };
    compiled.set(file, v);
  }
  return v;
}

interface SchemaNode {
  properties?: Record<string, SchemaNode>;
  additionalProperties?: SchemaNode | boolean;
  items?: SchemaNode;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
}

/**
 * Fields the schema does not define. A structural schema does not reject them (ajv passes them),
 * the API server prunes them silently and `kubectl apply --validate=strict` refuses them: either
 * way a misspelt field would do nothing.
 */
function unknownFields(value: unknown, schema: SchemaNode | undefined, path: string, out: string[]): void {
  if (schema === undefined || value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    value.forEach((item, i) => unknownFields(item, schema.items, `${path}/${i}`, out));
    return;
  }
  for (const [k, v] of Object.entries(value)) {
    const known = schema.properties?.[k];
    if (known) unknownFields(v, known, `${path}/${k}`, out);
    else if (typeof schema.additionalProperties === 'object') unknownFields(v, schema.additionalProperties, `${path}/${k}`, out);
    else if (schema.properties && schema.additionalProperties === undefined && !schema['x-kubernetes-preserve-unknown-fields']) out.push(`${path}/${k}: unknown field`);
  }
}

/** Problems of a document (`path: message`) against the vendored CRD schema in `file`, empty when it accepts it. */
export function vendoredCrdProblems(file: string, doc: unknown, kinds?: readonly string[]): string[] {
  const { crd, validate } = validator(file);
  const problems: string[] = [];
  const o = doc as { apiVersion?: unknown; kind?: unknown } | null;
  const apiVersion = `${crd.group}/${crd.version}`;
  if (o?.apiVersion !== apiVersion) problems.push(`apiVersion: ${JSON.stringify(o?.apiVersion)} is not ${apiVersion}`);
  if (!(kinds ?? [crd.kind]).includes(String(o?.kind))) problems.push(`kind: ${JSON.stringify(o?.kind)} is not a ${crd.kind}`);
  if (!validate(doc)) for (const e of validate.errors ?? []) problems.push(`${e.instancePath || '/'}: ${e.message ?? e.keyword}${e.params && 'allowedValues' in e.params ? ` (${(e.params.allowedValues as unknown[]).join(', ')})` : ''}`);
  unknownFields((doc as { spec?: unknown } | null)?.spec, (crd.openAPIV3Schema as SchemaNode).properties?.['spec'], '/spec', problems);
  return problems;
}

/** A CloudNativePG `Cluster` (postgresql.cnpg.io/v1) against the operator's CRD (cnpg-cluster-v1.schema.json). */
export function cnpgClusterProblems(doc: unknown): string[] {
  return vendoredCrdProblems('cnpg-cluster-v1.schema.json', doc);
}
