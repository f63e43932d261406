/**
 * docs/install.md, run the way a reader would: every `kubectl apply -k` / `kubectl delete -k`
 * directory it names is rendered by the real `kubectl kustomize`, and every kustomization example
 * is written out (its remote `github.com/…//deploy/daemonset/<dir>?ref=…` references mapped to
 * this checkout) and rendered too: every patch must still hit its target, and the result must
 * stay valid, hardened and loadable — so the docs cannot drift from the manifests.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse } from 'yaml';
import { packagePath } from '../../common/paths.js';
import { checkNetworkPolicies, checkWorkloads } from './hardening.js';
import { render, renderKustomization } from './kustomize.js';
import { DEPLOY_ROOT, ROOT_ALLOWED, effectiveConfig, mustFind, podLabelsOf, podSpecOf } from './manifests.js';
import { isBuiltinKind, unknownFields, validateBuiltin, validateCustomResource } from './schema.js';

const VERSION = (JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as { version: string }).version;
const FAKE_DIGEST = `sha256:${'0'.repeat(64)}`;

const doc = readFileSync(packagePath('docs', 'install.md'), 'utf8');
const shellBlocks = [...doc.matchAll(/```sh\n([\s\S]*?)\n\s*```/g)].map((m) => m[1]!);
const yamlBlocks = [...doc.matchAll(/```yaml\n([\s\S]*?)\n\s*```/g)].map((m) => m[1]!);

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

const commands = shellBlocks.flatMap((b) => [...b.matchAll(/^kubectl (apply|delete) -k (deploy\/\S+)/gm)].map((m) => ({ verb: m[1]!, dir: m[2]! })));

t.ok(commands.some((c) => c.verb === 'apply') && commands.length >= 4, `docs/install.md gives kubectl apply -k / delete -k commands (${commands.length})`);

for (const { verb, dir } of commands) {
  t.test(`kubectl ${verb} -k ${dir}`, async (t) => {
    const objects = render(packagePath(dir));
    t.ok(mustFind(objects, 'DaemonSet', 'driftwatch-agent') && mustFind(objects, 'Deployment', 'driftwatch-collector'), 'renders the agent and the collector');
    const rootAllowed = new Set(ROOT_ALLOWED[relative(DEPLOY_ROOT, packagePath(dir))] ?? []);
    t.same(checkWorkloads(objects, { imageTag: VERSION, rootAllowed }), [], 'hardened');
  });
}

const examples = yamlBlocks
  .map((b) => parse(dedent(b).replace(/sha256:(\.\.\.|<[^>]*>)/g, FAKE_DIGEST)) as Record<string, unknown>)
  .filter((k) => k && typeof k === 'object' && ('patches' in k || 'images' in k || 'resources' in k || 'components' in k || 'configMapGenerator' in k));

t.ok(examples.length >= 4, `docs/install.md has kustomization examples (${examples.length})`);

/** A small valid baseline file for generator examples (the files they name are the reader's own). */
const SAMPLE_BASELINE = readFileSync(packagePath('baselines', 'examples', 'shop-api.yaml'), 'utf8');

for (const [i, example] of examples.entries()) {
  t.test(`example ${i + 1}: ${Object.keys(example).join(', ')}`, async (t) => {
    const dir = t.testdir({ baselines: {} });
    const generatorFiles = ((example['configMapGenerator'] as { files?: string[] }[] | undefined) ?? []).flatMap((g) => g.files ?? []);
    const files = Object.fromEntries(generatorFiles.map((f) => [f, SAMPLE_BASELINE]));
    const objects = renderKustomization(
      dir,
      {
        ...example,
        // Examples that only show a fragment apply to the overlay the docs start from.
        resources: ((example['resources'] as string[] | undefined) ?? ['x//deploy/daemonset/overlays/tetragon?ref=x']).map(local),
        ...(example['components'] ? { components: (example['components'] as string[]).map(local) } : {}),
      },
      files,
    );
    const invalid = objects.flatMap((o) => (isBuiltinKind(o) ? [...validateBuiltin(o), ...unknownFields(o)] : validateCustomResource(o)).map((p) => `${o.kind}/${o.metadata.name}: ${p}`));
    t.same(invalid, [], 'every object is valid against its schema');
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
    if (((example['components'] as string[] | undefined) ?? []).some((c) => c.includes('components/prometheus'))) {
      const monitoring = objects.filter((o) => o.apiVersion.startsWith('monitoring.coreos.com/'));
      t.same(monitoring.map((o) => o.kind).sort(), ['PodMonitor', 'PrometheusRule', 'ServiceMonitor'], 'the Prometheus pack is in');
      t.ok(monitoring.every((o) => o.metadata.labels?.['release'] === 'kube-prometheus-stack'), 'and carries the release label Prometheus selects');
    }
    if (generatorFiles.length > 0) {
      const baselines = mustFind(objects, 'ConfigMap', 'driftwatch-baselines')['data'] as Record<string, string>;
      t.same(Object.keys(baselines).sort(), generatorFiles.map((f) => f.split('/').pop()!).sort(), 'the generated ConfigMap replaces the shipped driftwatch-baselines');
    }
  });
}
