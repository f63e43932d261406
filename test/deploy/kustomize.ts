/**
 * deploy/ rendered by the real tool: `kubectl kustomize` (kustomize v5, built into kubectl), so
 * what the tests validate is exactly what `kubectl apply -k` would send. `.ci/run` installs
 * kubectl (Debian package `kubectl`) when it is missing.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';

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

export const KUBECTL = process.env['KUBECTL'] ?? 'kubectl';

/** Every YAML document of a text, parsed as kubectl does (YAML 1.1, duplicate keys are errors). Empty documents are skipped. */
export function parseYamlDocuments(text: string, where: string): unknown[] {
  const out: unknown[] = [];
  for (const doc of parseAllDocuments(text, { version: '1.1', uniqueKeys: true, prettyErrors: false })) {
    if (doc.errors.length > 0) throw new Error(`${where}: invalid YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
    const value: unknown = doc.toJS({ maxAliasCount: 0 });
    if (value !== null && value !== undefined) out.push(value);
  }
  return out;
}

export function loadYamlDocuments(file: string): unknown[] {
  return parseYamlDocuments(readFileSync(file, 'utf8'), file);
}

const rendered = new Map<string, K8sObject[]>();

/** `kubectl kustomize DIR`: the objects, or an Error carrying kubectl's own message. Cached per directory. */
export function render(dir: string): K8sObject[] {
  const abs = resolve(dir);
  let objects = rendered.get(abs);
  if (!objects) {
    let out: string;
    try {
      out = execFileSync(KUBECTL, ['kustomize', abs], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000, maxBuffer: 64 << 20 });
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`kubectl kustomize ${abs} failed: ${(e.stderr ?? '').trim() || e.message}`);
    }
    objects = parseYamlDocuments(out, `kubectl kustomize ${abs}`) as K8sObject[];
    rendered.set(abs, objects);
  }
  return structuredClone(objects);
}

/**
 * Renders a kustomization of the user's own (as docs/install.md tells them to write): `body`
 * written into `dir` (a test directory), `resources` / `components` possibly absolute paths into
 * this checkout, and `files` beside it (patches, generator inputs).
 */
export function renderKustomization(dir: string, body: Record<string, unknown>, files: Record<string, string> = {}): K8sObject[] {
  // kustomize refuses absolute roots ("new root cannot be absolute"): name them relative to dir.
  const local = (paths: unknown): string[] | undefined => (Array.isArray(paths) ? paths.map((p: string) => (isAbsolute(p) ? relative(dir, p) : p)) : undefined);
  const kustomization = { apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', ...body, resources: local(body['resources']), components: local(body['components']) };
  writeFileSync(join(dir, 'kustomization.yaml'), stringify(kustomization));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return render(dir);
}

function kustomizationKind(dir: string): string | undefined {
  const file = join(dir, 'kustomization.yaml');
  if (!existsSync(file)) return undefined;
  const doc = loadYamlDocuments(file)[0] as { kind?: string } | undefined;
  return doc?.kind ?? 'Kustomization';
}

/** Every kustomization directory under `root` (base and overlays), and every component directory. */
export function findKustomizations(root: string): { kustomizations: string[]; components: string[] } {
  const kustomizations: string[] = [];
  const components: string[] = [];
  const visit = (dir: string): void => {
    const kind = kustomizationKind(dir);
    if (kind !== undefined) (kind === 'Component' ? components : kustomizations).push(dir);
    for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) visit(join(dir, entry.name));
  };
  visit(resolve(root));
  return { kustomizations: kustomizations.sort(), components: components.sort() };
}

/** The local files and directories a kustomization names (resources, components, patches, generator files), resolved. */
export function referencedPaths(dir: string): string[] {
  const k = loadYamlDocuments(join(dir, 'kustomization.yaml'))[0] as {
    resources?: string[];
    components?: string[];
    patches?: { path?: string }[];
    configMapGenerator?: { files?: string[] }[];
  };
  const generatorFiles = (k.configMapGenerator ?? []).flatMap((g) => (g.files ?? []).map((f) => f.slice(f.indexOf('=') + 1)));
  return [...(k.resources ?? []), ...(k.components ?? []), ...(k.patches ?? []).flatMap((p) => (p.path ? [p.path] : [])), ...generatorFiles].map((p) => resolve(dir, p));
}
