/**
 * A small, strict kustomize resolver for driftwatch's own manifests (no kustomize binary can be
 * installed here). It implements what deploy/daemonset and the examples in docs/install.md use —
 * `resources` (files and kustomization directories), `components`, `patches` (strategic merge
 * and JSON 6902, from a file or inline, with or without `target`), `images` and `namespace` —
 * and refuses anything else, so a kustomization that starts using a new feature fails the test
 * instead of being half-understood.
 *
 * Like `kustomize build` it refuses files outside a kustomization's own directory (the default
 * load restrictor), requires every patch to hit at least one object, and parses YAML as YAML 1.1
 * the way kubectl does (`0440` is octal there).
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

export interface BuildResult {
  /** The kustomization directory that was built. */
  dir: string;
  objects: K8sObject[];
  /** Every file read while building (kustomizations, resources, patches). */
  files: Set<string>;
}

export class KustomizeError extends Error {
  constructor(where: string, reason: string) {
    super(`${where}: ${reason}`);
    this.name = 'KustomizeError';
  }
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

interface PatchTarget {
  group?: string;
  version?: string;
  kind?: string;
  name?: string;
  namespace?: string;
}

interface PatchEntry {
  path?: string;
  patch?: string;
  target?: PatchTarget;
}

interface ImageEntry {
  name: string;
  newName?: string;
  newTag?: string;
  digest?: string;
}

interface Kustomization {
  apiVersion: string;
  kind: 'Kustomization' | 'Component';
  namespace?: string;
  resources?: string[];
  components?: string[];
  patches?: PatchEntry[];
  images?: ImageEntry[];
}

const KUSTOMIZATION_FIELDS = new Set(['apiVersion', 'kind', 'namespace', 'resources', 'components', 'patches', 'images']);
const IMAGE_FIELDS = new Set(['name', 'newName', 'newTag', 'digest']);
const PATCH_FIELDS = new Set(['path', 'patch', 'target']);
const TARGET_FIELDS = new Set(['group', 'version', 'kind', 'name', 'namespace']);

/** Kinds kustomize's namespace transformer knows to be cluster-scoped (it treats unknown CRD kinds as namespaced). */
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'PersistentVolume',
  'StorageClass',
  'PriorityClass',
  'ValidatingWebhookConfiguration',
  'MutatingWebhookConfiguration',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
]);

/** Strategic-merge keys of the Kubernetes lists our patches touch (`patchMergeKey` in the API). */
const MERGE_KEYS: Record<string, string[]> = {
  containers: ['name'],
  initContainers: ['name'],
  ephemeralContainers: ['name'],
  volumes: ['name'],
  volumeMounts: ['mountPath'],
  env: ['name'],
  imagePullSecrets: ['name'],
  // Container ports merge on containerPort, Service ports on port.
  ports: ['containerPort', 'port'],
};

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function clone<T>(v: T): T {
  return structuredClone(v);
}

/** Every YAML document of a file, parsed as kubectl does (YAML 1.1, duplicate keys are errors). Empty documents are skipped. */
export function loadYamlDocuments(file: string): unknown[] {
  const text = readFileSync(file, 'utf8');
  const docs = parseAllDocuments(text, { version: '1.1', uniqueKeys: true, prettyErrors: false });
  const out: unknown[] = [];
  for (const doc of Array.isArray(docs) ? docs : [docs]) {
    if (doc.errors.length > 0) throw new KustomizeError(file, `invalid YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
    const value: unknown = doc.toJS({ maxAliasCount: 0 });
    if (value !== null && value !== undefined) out.push(value);
  }
  return out;
}

function asK8sObject(value: unknown, where: string): K8sObject {
  if (!isObject(value)) throw new KustomizeError(where, 'a resource must be a mapping');
  const { apiVersion, kind, metadata } = value;
  if (typeof apiVersion !== 'string' || apiVersion === '') throw new KustomizeError(where, 'apiVersion is missing');
  if (typeof kind !== 'string' || kind === '') throw new KustomizeError(where, 'kind is missing');
  if (!isObject(metadata) || typeof metadata['name'] !== 'string' || metadata['name'] === '') throw new KustomizeError(where, `${kind} without metadata.name`);
  return value as unknown as K8sObject;
}

function within(root: string, path: string): boolean {
  const rel = relative(root, path);
  return !rel.startsWith('..') && !isAbsolute(rel);
}

function readKustomization(dir: string, files: Set<string>, expectKind: Kustomization['kind']): Kustomization {
  const file = join(dir, 'kustomization.yaml');
  if (!existsSync(file)) throw new KustomizeError(dir, 'no kustomization.yaml');
  files.add(file);
  const docs = loadYamlDocuments(file);
  if (docs.length !== 1 || !isObject(docs[0])) throw new KustomizeError(file, 'must hold exactly one mapping');
  const k = docs[0];
  for (const key of Object.keys(k)) {
    if (!KUSTOMIZATION_FIELDS.has(key)) throw new KustomizeError(file, `unsupported field "${key}" (extend test/deploy/kustomize.ts before using it)`);
  }
  const expectedApi = expectKind === 'Component' ? 'kustomize.config.k8s.io/v1alpha1' : 'kustomize.config.k8s.io/v1beta1';
  if (k['apiVersion'] !== expectedApi || k['kind'] !== expectKind) {
    throw new KustomizeError(file, `expected apiVersion ${expectedApi}, kind ${expectKind}; got ${String(k['apiVersion'])}, ${String(k['kind'])}`);
  }
  for (const list of ['resources', 'components'] as const) {
    const v = k[list];
    if (v !== undefined && (!Array.isArray(v) || v.some((e) => typeof e !== 'string'))) throw new KustomizeError(file, `${list} must be a list of paths`);
  }
  const patches = k['patches'];
  if (patches !== undefined) {
    if (!Array.isArray(patches)) throw new KustomizeError(file, 'patches must be a list');
    for (const [i, p] of patches.entries()) {
      if (!isObject(p)) throw new KustomizeError(file, `patches[${i}] must be a mapping`);
      for (const key of Object.keys(p)) if (!PATCH_FIELDS.has(key)) throw new KustomizeError(file, `patches[${i}]: unsupported field "${key}"`);
      if ((p['path'] === undefined) === (p['patch'] === undefined)) throw new KustomizeError(file, `patches[${i}]: exactly one of path and patch`);
      if (p['target'] !== undefined) {
        if (!isObject(p['target'])) throw new KustomizeError(file, `patches[${i}].target must be a mapping`);
        for (const key of Object.keys(p['target'])) if (!TARGET_FIELDS.has(key)) throw new KustomizeError(file, `patches[${i}].target: unsupported field "${key}"`);
      }
    }
  }
  if (k['namespace'] !== undefined && typeof k['namespace'] !== 'string') throw new KustomizeError(file, 'namespace must be a string');
  const images = k['images'];
  if (images !== undefined) {
    if (!Array.isArray(images)) throw new KustomizeError(file, 'images must be a list');
    for (const [i, img] of images.entries()) {
      if (!isObject(img) || typeof img['name'] !== 'string') throw new KustomizeError(file, `images[${i}] needs a name`);
      for (const key of Object.keys(img)) if (!IMAGE_FIELDS.has(key)) throw new KustomizeError(file, `images[${i}]: unsupported field "${key}"`);
    }
  }
  return k as unknown as Kustomization;
}

function idOf(o: K8sObject): string {
  return `${o.apiVersion}/${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

function groupVersion(apiVersion: string): { group: string; version: string } {
  const i = apiVersion.lastIndexOf('/');
  return i < 0 ? { group: '', version: apiVersion } : { group: apiVersion.slice(0, i), version: apiVersion.slice(i + 1) };
}

function matchesTarget(o: K8sObject, t: PatchTarget): boolean {
  const gv = groupVersion(o.apiVersion);
  if (t.group !== undefined && t.group !== gv.group) return false;
  if (t.version !== undefined && t.version !== gv.version) return false;
  if (t.kind !== undefined && t.kind !== o.kind) return false;
  if (t.name !== undefined && t.name !== o.metadata.name) return false;
  if (t.namespace !== undefined && t.namespace !== (o.metadata.namespace ?? '')) return false;
  return true;
}

// ---------------------------------------------------------------- strategic merge patch

function mergeKeyFor(field: string, items: Json[]): string | undefined {
  const candidates = MERGE_KEYS[field];
  if (!candidates) return undefined;
  return candidates.find((key) => items.every((item) => isObject(item) && item[key] !== undefined));
}

function mergeList(field: string, base: Json[], patch: Json[], where: string): Json[] {
  const key = mergeKeyFor(field, [...base, ...patch]);
  if (key === undefined) {
    // No merge key: a strategic merge patch replaces the list (tolerations, args, rules, …).
    return patch.filter((item) => !(isObject(item) && item['$patch'] !== undefined)).map(clone);
  }
  const out = base.map(clone);
  for (const item of patch) {
    const p = item as JsonObject;
    const idx = out.findIndex((b) => (b as JsonObject)[key] === p[key]);
    if (p['$patch'] === 'delete') {
      if (idx < 0) throw new KustomizeError(where, `$patch: delete of ${field} item ${key}=${String(p[key])} that does not exist`);
      out.splice(idx, 1);
    } else if (p['$patch'] === 'replace') {
      const { $patch: _ignored, ...rest } = p;
      if (idx < 0) out.push(clone(rest));
      else out[idx] = clone(rest);
    } else if (p['$patch'] !== undefined) {
      throw new KustomizeError(where, `unsupported $patch: ${String(p['$patch'])}`);
    } else if (idx < 0) out.push(clone(p));
    else out[idx] = mergeObject(out[idx] as JsonObject, p, `${where}.${field}[${key}=${String(p[key])}]`);
  }
  return out;
}

function mergeObject(base: JsonObject, patch: JsonObject, where: string): JsonObject {
  if (patch['$patch'] === 'replace') {
    const { $patch: _ignored, ...rest } = patch;
    return clone(rest);
  }
  const out: JsonObject = clone(base);
  for (const [field, value] of Object.entries(patch)) {
    if (field === '$patch') throw new KustomizeError(where, `unsupported $patch: ${String(value)}`);
    if (value === null) {
      delete out[field];
    } else if (isObject(value) && value['$patch'] === 'delete') {
      delete out[field];
    } else if (isObject(value) && isObject(out[field])) {
      out[field] = mergeObject(out[field] as JsonObject, value, `${where}.${field}`);
    } else if (Array.isArray(value) && Array.isArray(out[field])) {
      out[field] = mergeList(field, out[field] as Json[], value, `${where}.${field}`);
    } else {
      out[field] = clone(value);
    }
  }
  return out;
}

// ---------------------------------------------------------------- JSON 6902

interface JsonPatchOp {
  op: 'add' | 'remove' | 'replace' | 'test';
  path: string;
  value?: Json;
}

function pointer(path: string, where: string): string[] {
  if (!path.startsWith('/')) throw new KustomizeError(where, `JSON pointer must start with /: ${path}`);
  return path
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function applyJsonPatch(doc: JsonObject, ops: JsonPatchOp[], where: string): JsonObject {
  const out = clone(doc);
  for (const [i, op] of ops.entries()) {
    const at = `${where} op ${i} (${op.op} ${op.path})`;
    const segs = pointer(op.path, at);
    const last = segs.pop()!;
    let parent: Json = out;
    for (const seg of segs) {
      const next: Json | undefined = Array.isArray(parent) ? parent[Number(seg)] : isObject(parent) ? parent[seg] : undefined;
      if (next === undefined || next === null || typeof next !== 'object') throw new KustomizeError(at, `path does not exist at "${seg}"`);
      parent = next;
    }
    if (Array.isArray(parent)) {
      const idx = last === '-' ? parent.length : Number(last);
      if (!Number.isInteger(idx) || idx < 0 || idx > parent.length || (op.op !== 'add' && idx >= parent.length)) throw new KustomizeError(at, `index ${last} out of range`);
      if (op.op === 'add') parent.splice(idx, 0, clone(op.value!));
      else if (op.op === 'remove') parent.splice(idx, 1);
      else if (op.op === 'replace') parent[idx] = clone(op.value!);
      else if (JSON.stringify(parent[idx]) !== JSON.stringify(op.value)) throw new KustomizeError(at, 'test failed');
    } else if (isObject(parent)) {
      const exists = Object.prototype.hasOwnProperty.call(parent, last);
      if (op.op !== 'add' && !exists) throw new KustomizeError(at, `"${last}" does not exist`);
      if (op.op === 'add' || op.op === 'replace') parent[last] = clone(op.value!);
      else if (op.op === 'remove') delete parent[last];
      else if (JSON.stringify(parent[last]) !== JSON.stringify(op.value)) throw new KustomizeError(at, 'test failed');
    } else {
      throw new KustomizeError(at, 'parent is not a container');
    }
  }
  return out;
}

function asJsonPatch(value: unknown[], where: string): JsonPatchOp[] {
  return value.map((op, i) => {
    if (!isObject(op) || typeof op['path'] !== 'string' || !['add', 'remove', 'replace', 'test'].includes(String(op['op']))) {
      throw new KustomizeError(where, `operation ${i}: unsupported or malformed (add/remove/replace/test with a path)`);
    }
    if (op['op'] !== 'remove' && !('value' in op)) throw new KustomizeError(where, `operation ${i}: value is required`);
    return op as unknown as JsonPatchOp;
  });
}

// ---------------------------------------------------------------- images

/** The `images` transformer: containers whose image name (without tag/digest) matches get a new name, tag or digest. */
function applyImages(objects: K8sObject[], images: ImageEntry[]): K8sObject[] {
  const rewrite = (image: string): string => {
    const at = image.indexOf('@');
    const beforeDigest = at >= 0 ? image.slice(0, at) : image;
    const colon = beforeDigest.lastIndexOf(':');
    const name = colon > beforeDigest.lastIndexOf('/') ? beforeDigest.slice(0, colon) : beforeDigest;
    const entry = images.find((e) => e.name === name);
    if (!entry) return image;
    const tag = colon > beforeDigest.lastIndexOf('/') ? beforeDigest.slice(colon + 1) : undefined;
    const newName = entry.newName ?? name;
    if (entry.digest) return `${newName}@${entry.digest}`;
    const newTag = entry.newTag ?? tag;
    return newTag ? `${newName}:${newTag}` : newName;
  };
  const visit = (v: Json): Json => {
    if (Array.isArray(v)) return v.map(visit);
    if (!isObject(v)) return v;
    const out: JsonObject = {};
    for (const [k, val] of Object.entries(v)) {
      out[k] = (k === 'containers' || k === 'initContainers') && Array.isArray(val)
        ? val.map((c) => (isObject(c) && typeof c['image'] === 'string' ? { ...(visit(c) as JsonObject), image: rewrite(c['image']) } : visit(c)))
        : visit(val);
    }
    return out;
  };
  return objects.map((o) => visit(o as unknown as JsonObject) as unknown as K8sObject);
}

// ---------------------------------------------------------------- build

function applyPatches(dir: string, patches: PatchEntry[], objects: K8sObject[], files: Set<string>): K8sObject[] {
  let result = objects;
  for (const [i, entry] of patches.entries()) {
    let where: string;
    let docs: unknown[];
    if (entry.path !== undefined) {
      const file = resolve(dir, entry.path);
      where = file;
      if (!within(dir, file)) throw new KustomizeError(join(dir, 'kustomization.yaml'), `patch ${entry.path} is outside the kustomization directory (kustomize load restrictor)`);
      if (!existsSync(file)) throw new KustomizeError(join(dir, 'kustomization.yaml'), `patch file ${entry.path} does not exist`);
      files.add(file);
      docs = loadYamlDocuments(file);
    } else {
      where = `${join(dir, 'kustomization.yaml')} patches[${i}]`;
      const parsed = parseAllDocuments(entry.patch!, { version: '1.1', uniqueKeys: true });
      docs = (Array.isArray(parsed) ? parsed : [parsed]).map((d) => d.toJS() as unknown).filter((d) => d !== null && d !== undefined);
    }
    if (docs.length !== 1) throw new KustomizeError(where, 'a patch must hold exactly one document');
    const doc = docs[0];
    if (Array.isArray(doc)) {
      if (!entry.target) throw new KustomizeError(where, 'a JSON 6902 patch needs a target');
      const ops = asJsonPatch(doc, where);
      const target = entry.target;
      let hits = 0;
      result = result.map((o) => {
        if (!matchesTarget(o, target)) return o;
        hits++;
        return asK8sObject(applyJsonPatch(o as unknown as JsonObject, ops, where), where);
      });
      if (hits === 0) throw new KustomizeError(where, `target ${JSON.stringify(target)} matches no object`);
    } else {
      const patch = asK8sObject(doc, where);
      const target: PatchTarget = entry.target ?? { kind: patch.kind, name: patch.metadata.name, ...(patch.metadata.namespace !== undefined ? { namespace: patch.metadata.namespace } : {}) };
      let hits = 0;
      result = result.map((o) => {
        if (!matchesTarget(o, target)) return o;
        if (!entry.target && o.apiVersion !== patch.apiVersion) return o;
        hits++;
        const body = patch as unknown as JsonObject;
        // With an explicit target the patch's own name does not rename the object.
        const merged = mergeObject(o as unknown as JsonObject, entry.target ? { ...body, metadata: { ...(body['metadata'] as JsonObject), name: o.metadata.name } } : body, where);
        return asK8sObject(merged, where);
      });
      if (hits === 0) throw new KustomizeError(where, `strategic merge patch for ${patch.kind}/${patch.metadata.name} matches no object`);
    }
  }
  return result;
}

function addResources(dir: string, entries: string[], files: Set<string>): K8sObject[] {
  const out: K8sObject[] = [];
  for (const entry of entries) {
    if (/^[a-z]+:\/\//i.test(entry) || entry.startsWith('github.com/')) throw new KustomizeError(join(dir, 'kustomization.yaml'), `remote resource ${entry} is not supported`);
    const path = resolve(dir, entry);
    if (!existsSync(path)) throw new KustomizeError(join(dir, 'kustomization.yaml'), `resource ${entry} does not exist`);
    if (statSync(path).isDirectory()) {
      out.push(...buildDir(path, files, 'Kustomization'));
    } else {
      if (!within(dir, path)) throw new KustomizeError(join(dir, 'kustomization.yaml'), `resource file ${entry} is outside the kustomization directory (kustomize load restrictor)`);
      files.add(path);
      for (const doc of loadYamlDocuments(path)) out.push(asK8sObject(doc, path));
    }
  }
  return out;
}

function buildDir(dir: string, files: Set<string>, kind: Kustomization['kind'], accumulated: K8sObject[] = []): K8sObject[] {
  const k = readKustomization(dir, files, kind);
  let objects = [...accumulated, ...addResources(dir, k.resources ?? [], files)];
  for (const component of k.components ?? []) {
    const path = resolve(dir, component);
    if (!existsSync(path) || !statSync(path).isDirectory()) throw new KustomizeError(join(dir, 'kustomization.yaml'), `component ${component} is not a directory`);
    objects = buildDir(path, files, 'Component', objects);
  }
  objects = applyPatches(dir, k.patches ?? [], objects, files);
  if (k.images?.length) objects = applyImages(objects, k.images);
  if (k.namespace !== undefined) {
    const ns = k.namespace;
    objects = objects.map((o) => (CLUSTER_SCOPED.has(o.kind) ? o : { ...o, metadata: { ...o.metadata, namespace: ns } }));
  }
  const seen = new Set<string>();
  for (const o of objects) {
    const id = idOf(o);
    if (seen.has(id)) throw new KustomizeError(dir, `duplicate object ${id}`);
    seen.add(id);
  }
  return objects;
}

/** `kustomize build DIR`, for the subset described above. */
export function build(dir: string): BuildResult {
  const files = new Set<string>();
  const root = resolve(dir);
  return { dir: root, objects: buildDir(root, files, 'Kustomization'), files };
}

/** Every kustomization directory under `root` (base and overlays), and every component directory. */
export function findKustomizations(root: string): { kustomizations: string[]; components: string[] } {
  const kustomizations: string[] = [];
  const components: string[] = [];
  const visit = (dir: string): void => {
    const file = join(dir, 'kustomization.yaml');
    if (existsSync(file)) {
      const doc = loadYamlDocuments(file)[0];
      (isObject(doc) && doc['kind'] === 'Component' ? components : kustomizations).push(dir);
    }
    for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) visit(join(dir, entry.name));
  };
  visit(resolve(root));
  return { kustomizations: kustomizations.sort(), components: components.sort() };
}
