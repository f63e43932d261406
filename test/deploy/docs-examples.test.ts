/**
 * The kustomization examples in docs/install.md, applied to the shipped overlays (their remote
 * `github.com/…//deploy/daemonset/<dir>?ref=…` references mapped to this checkout): every patch
 * must still hit its target, and the result must stay valid, hardened and loadable — so the docs
 * cannot drift from the manifests.
 */
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { packagePath } from '../../common/paths.js';
import { checkNetworkPolicies, checkWorkloads } from './hardening.js';
import { build } from './kustomize.js';
import { DEPLOY_ROOT, effectiveConfig, mustFind, podLabelsOf, podSpecOf } from './manifests.js';
import { unknownFields, validateBuiltin } from './schema.js';

const VERSION = (JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as { version: string }).version;
const FAKE_DIGEST = `sha256:${'0'.repeat(64)}`;

const doc = readFileSync(packagePath('docs', 'install.md'), 'utf8');
const blocks = [...doc.matchAll(/```yaml\n([\s\S]*?)\n\s*```/g)].map((m) => m[1]!);

/** Unindents a block that sits inside a list item. */
function dedent(text: string): string {
  const indent = Math.min(...text.split('\n').filter((l) => l.trim()).map((l) => /^ */.exec(l)![0].length));
  return text
    .split('\n')
    .map((l) => l.slice(indent))
    .join('\n');
}

function local(ref: string): string {
  const m = /\/\/deploy\/daemonset\/([^?]+)\?ref=/.exec(ref);
  if (!m) throw new Error(`not a driftwatch deploy reference: ${ref}`);
  return join(DEPLOY_ROOT, m[1]!);
}

const examples = blocks
  .map((b) => parse(dedent(b).replace(/sha256:(\.\.\.|<[^>]*>)/g, FAKE_DIGEST)) as Record<string, unknown>)
  .filter((k) => k && typeof k === 'object' && ('patches' in k || 'images' in k || 'resources' in k || 'configMapGenerator' in k));

t.ok(examples.length >= 4, `docs/install.md has kustomization examples (${examples.length})`);

for (const [i, example] of examples.entries()) {
  if ('configMapGenerator' in example) {
    // Generators are kustomize's own business (not in the resolver); check the target instead.
    const gen = (example['configMapGenerator'] as { name: string; namespace: string; behavior: string }[])[0]!;
    t.test(`example ${i + 1}: baselines ConfigMap generator replaces the shipped one`, async (t) => {
      const base = build(DEPLOY_ROOT).objects;
      t.ok(mustFind(base, 'ConfigMap', gen.name), `${gen.name} exists in the base`);
      t.equal(gen.namespace, 'driftwatch');
      t.equal(gen.behavior, 'replace');
    });
    continue;
  }
  t.test(`example ${i + 1}: ${Object.keys(example).join(', ')}`, async (t) => {
    const dir = t.testdir();
    const kustomization = {
      apiVersion: 'kustomize.config.k8s.io/v1beta1',
      kind: 'Kustomization',
      ...example,
      resources: ((example['resources'] as string[] | undefined) ?? ['x//deploy/daemonset/overlays/tetragon?ref=x']).map(local),
      ...(example['components'] ? { components: (example['components'] as string[]).map(local) } : {}),
    };
    writeFileSync(join(dir, 'kustomization.yaml'), stringify(kustomization));
    const objects = build(dir).objects;
    const invalid = objects
      .filter((x) => x.apiVersion !== 'cilium.io/v1alpha1' && x.apiVersion !== 'cert-manager.io/v1')
      .flatMap((o) => [...validateBuiltin(o), ...unknownFields(o)].map((p) => `${o.kind}/${o.metadata.name}: ${p}`));
    t.same(invalid, [], 'every object is valid against the Kubernetes schema');
    t.same(checkWorkloads(objects, { imageTag: VERSION }), [], 'still hardened');
    const agent = mustFind(objects, 'DaemonSet', 'driftwatch-agent');
    const collector = mustFind(objects, 'Deployment', 'driftwatch-collector');
    t.same(checkNetworkPolicies(objects, { agentLabels: podLabelsOf(agent), collectorLabels: podLabelsOf(collector) }), [], 'network rules still hold');
    const agentConfig = effectiveConfig(agent, 'agent', objects, dir);
    const collectorConfig = effectiveConfig(collector, 'collector', objects, dir);
    t.equal(agentConfig.cluster, collectorConfig.cluster, `agent and collector configurations load and agree on the cluster name (${agentConfig.cluster})`);
    for (const img of (example['images'] as { newName: string; digest: string }[] | undefined) ?? []) {
      const images = [agent, collector].flatMap((w) => podSpecOf(w)!.containers.map((c) => c.image));
      t.same([...new Set(images)], [`${img.newName}@${img.digest}`], 'images are pinned by digest in your registry');
    }
  });
}
