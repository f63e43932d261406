/**
 * The Prometheus pack (deploy/daemonset/components/prometheus) against what driftwatch really
 * exports: a real collector and a real agent, as separate processes, replay the demo recording
 * (learning, then deviations, alerts to a file sink); both /metrics are scraped, and every metric
 * name in every PrometheusRule expression and every dashboard query must be exported (histogram
 * `_bucket` / `_sum` / `_count` included), every label a selector matches on must exist on it,
 * and the standard process_* / nodejs_* metrics carry prom-client's own names.
 */
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { packagePath } from '../../common/paths.js';
import { eventually, freePort, spawnCli } from '../helpers/processes.js';
import { loadYamlDocuments } from './kustomize.js';
import { DEPLOY_ROOT } from './manifests.js';

const PACK = join(DEPLOY_ROOT, 'components', 'prometheus');

/** Produced by Prometheus itself (`up`) or by kube-state-metrics (part of kube-prometheus-stack), not by driftwatch. */
const EXTERNAL = new Set(['up', 'kube_daemonset_status_desired_number_scheduled', 'kube_daemonset_status_number_available']);
/** Labels Prometheus adds to every target (PodMonitor / ServiceMonitor relabelling), not the processes. */
const TARGET_LABELS = new Set(['job', 'instance', 'namespace', 'pod', 'container', 'service', 'endpoint', 'node']);

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);
/** Aggregation operators: their grouping clause may stand between the name and the parenthesis (`sum by (x) (…)`). */
const AGGREGATIONS = new Set(['sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile', 'limitk', 'limit_ratio']);

interface Selector {
  metric: string;
  labels: string[];
}

/**
 * The metric selectors of a PromQL expression: a small tokenizer, enough for the pack's queries
 * (strings, label matchers, ranges and grouping clauses skipped; identifiers followed by `(` are
 * functions or aggregations).
 */
function selectors(expr: string): Selector[] {
  const out: Selector[] = [];
  const src = expr.replace(/\$__\w+|\$\w+/g, '1m');
  let i = 0;
  /** Moves i past the string literal starting at i. */
  const skipString = (): void => {
    const q = src[i];
    for (i++; i < src.length && src[i] !== q; i++) if (src[i] === '\\') i++;
    i++;
  };
  const skipBalanced = (open: string, close: string): string => {
    const start = i;
    let depth = 0;
    for (; i < src.length; i++) {
      const c = src[i]!;
      if (c === '"' || c === "'") {
        skipString();
        i--;
      } else if (c === open) depth++;
      else if (c === close && --depth === 0) {
        i++;
        break;
      }
    }
    return src.slice(start, i);
  };
  const labelNames = (matchers: string): string[] => [...matchers.matchAll(/([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)/g)].map((m) => m[1]!);
  while (i < src.length) {
    const c = src[i]!;
    if (c === '"' || c === "'") {
      skipString();
      continue;
    }
    if (c === '[') {
      skipBalanced('[', ']');
      continue;
    }
    if (c === '{') {
      skipBalanced('{', '}');
      continue;
    }
    const number = /^[0-9][0-9.eE+]*[a-zA-Z0-9]*/.exec(src.slice(i)); // 0.95, 1e3, 5m, 1h30m
    if (number) {
      i += number[0].length;
      continue;
    }
    const id = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(src.slice(i));
    if (!id) {
      i++;
      continue;
    }
    const word = id[0];
    i += word.length;
    const rest = src.slice(i);
    const ws = /^\s*/.exec(rest)![0].length;
    if (KEYWORDS.has(word.toLowerCase())) {
      // by (…), without (…), on (…), ignoring (…), group_left (…): label lists, not metrics.
      if (src[i + ws] === '(') {
        i += ws;
        skipBalanced('(', ')');
      }
      continue;
    }
    if (src[i + ws] === '(' || AGGREGATIONS.has(word)) continue; // a function or aggregation
    let labels: string[] = [];
    if (src[i + ws] === '{') {
      i += ws;
      labels = labelNames(skipBalanced('{', '}'));
    }
    out.push({ metric: word, labels });
  }
  return out;
}

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
}

const ruleDoc = loadYamlDocuments(join(PACK, 'prometheusrule.yaml'))[0] as { spec: { groups: { rules: Rule[] }[] } };
const rules = ruleDoc.spec.groups.flatMap((g) => g.rules);
interface Panel {
  title: string;
  type: string;
  targets?: { expr: string }[];
}
const dashboard = JSON.parse(readFileSync(join(PACK, 'dashboard.json'), 'utf8')) as { panels: Panel[]; templating: { list: { name: string; definition?: string }[] } };
const queries: { where: string; expr: string }[] = [
  ...rules.map((r) => ({ where: `rule ${r.alert ?? r.record}`, expr: r.expr })),
  ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((q) => ({ where: `panel "${p.title}"`, expr: q.expr }))),
  // Grafana's label_values(metric, label): the metric, and the label on it.
  ...dashboard.templating.list.flatMap((v) => {
    const m = /^label_values\((\w+),\s*(\w+)\)$/.exec(v.definition ?? '');
    return m ? [{ where: `variable $${v.name}`, expr: `${m[1]}{${m[2]}!=""}` }] : [];
  }),
];

t.test('the PromQL tokenizer finds metrics and their matchers, not functions, keywords or labels', async (t) => {
  t.same(selectors('histogram_quantile(0.95, sum by (le, sink) (rate(a_bucket{sink=~"x|y"}[$__rate_interval])))'), [{ metric: 'a_bucket', labels: ['sink'] }]);
  t.same(selectors('up{job="j"} == 0 or absent(up{job="j"})'), [{ metric: 'up', labels: ['job'] }, { metric: 'up', labels: ['job'] }]);
  t.same(selectors('(time() - b_seconds) > 900 and on (node) c == 1'), [{ metric: 'b_seconds', labels: [] }, { metric: 'c', labels: [] }]);
  t.same(selectors('sum without (pod) (rate(d_total{result="a}b"}[10m] offset 5m)) / ignoring(x) group_left e'), [{ metric: 'd_total', labels: ['result'] }, { metric: 'e', labels: [] }]);
  t.ok(queries.length >= rules.length + 15, `${queries.length} queries: ${rules.length} rules, the dashboard's panels and variables`);
  t.ok(dashboard.panels.filter((p) => p.type !== 'row').every((p) => (p.targets ?? []).length > 0), 'every dashboard panel has a query');
});

/** Metric names of a Prometheus text exposition (histogram and summary series names included), and the label names each carries. */
function exported(text: string): Map<string, Set<string>> {
  const names = new Map<string, Set<string>>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\w+)$/gm)) {
    const [, name, type] = m as unknown as [string, string, string];
    const series = type === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : type === 'summary' ? [name, `${name}_sum`, `${name}_count`] : [name];
    for (const s of series) names.set(s, new Set());
  }
  for (const m of text.matchAll(/^([a-zA-Z_:][\w:]*)\{([^}]*)\}/gm)) {
    for (const l of m[2]!.matchAll(/(\w+)="/g)) names.get(m[1]!)?.add(l[1]!);
  }
  return names;
}

t.test('every metric the rules and the dashboard use is exported by a running agent or collector', async (t) => {
  const dir = t.testdir({ baselines: {} });
  const [grpcPort, collectorHttp, agentHttp] = [await freePort(), await freePort(), await freePort()];
  const demo = parse(readFileSync(packagePath('demo', 'recording', 'driftwatch.yaml'), 'utf8')) as { cluster: string; collector: Record<string, unknown> };
  const alertsFile = join(dir, 'alerts.jsonl');
  const config = join(dir, 'driftwatch.yaml');
  writeFileSync(
    config,
    stringify({
      cluster: demo.cluster,
      log: { level: 'info', format: 'json' },
      collector: {
        ...demo.collector,
        dataDir: join(dir, 'data'),
        baselinesDir: join(dir, 'baselines'),
        grpc: { listen: `127.0.0.1:${grpcPort}` },
        http: { listen: `127.0.0.1:${collectorHttp}` },
        kubernetes: { mode: 'off' },
        alerting: { grouping: { wait: '100ms' }, sinks: [{ name: 'file', type: 'file', path: alertsFile }] },
      },
      agent: {
        node: 'demo-node',
        collector: { address: `127.0.0.1:${grpcPort}` },
        http: { listen: `127.0.0.1:${agentHttp}` },
        kubernetes: { mode: 'off' },
        ship: { flushInterval: '50ms' },
        sources: [{ kind: 'tetragon-json', address: packagePath('demo', 'recording', 'cluster.jsonl') }],
      },
    }),
  );
  const collector = spawnCli(['collector', '--config', config]);
  t.teardown(() => collector.stop('SIGKILL'));
  // Started from the TypeScript sources: on a loaded machine that alone can outlast the default
  // 30 s (measured 50 s at load 11 on 2 cores), as in test/e2e/rotating-peers.test.ts.
  await collector.waitForLog(/collector ready/, 120_000);
  const agent = spawnCli(['agent', '--config', config]);
  t.teardown(() => agent.stop('SIGKILL'));
  await agent.waitForLog(/connected to collector/, 120_000);

  const scrape = async (port: number): Promise<string> => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  // The replay raises deviations; their notifications reach the file sink.
  await eventually(async () => /^driftwatch_deviations_open\{/m.test(await scrape(collectorHttp)), 'open deviations in the collector metrics', 60_000);
  await eventually(async () => /^driftwatch_sink_delivery_seconds_count\{sink="file"\} [1-9]/m.test(await scrape(collectorHttp)), 'a notification delivered to the file sink', 60_000);

  const agentText = await scrape(agentHttp);
  const collectorText = await scrape(collectorHttp);
  const available = new Map([...exported(agentText), ...exported(collectorText)]);

  for (const { where, expr } of queries) {
    for (const s of selectors(expr)) {
      if (EXTERNAL.has(s.metric)) continue;
      const labels = available.get(s.metric);
      t.ok(labels, `${where}: ${s.metric} is exported`);
      for (const l of s.labels.filter((x) => !TARGET_LABELS.has(x))) t.ok(labels?.has(l), `${where}: ${s.metric} has the label ${l}`);
    }
  }
  const used = new Set(queries.flatMap((q) => selectors(q.expr).map((s) => s.metric)));
  t.same([...used].filter((m) => EXTERNAL.has(m)).sort(), [...EXTERNAL].sort(), 'every external metric listed is really used (and documented in docs/install.md)');

  t.test('standard names for the runtime metrics, driftwatch_ for driftwatch', async (t) => {
    for (const [who, text] of [['agent', agentText], ['collector', collectorText]] as const) {
      const names = [...exported(text).keys()];
      for (const std of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds']) t.ok(names.includes(std), `${who}: ${std}`);
      t.same(names.filter((n) => /^driftwatch_(agent|collector)_(process|nodejs)_/.test(n)), [], `${who}: no prefixed copies`);
      t.same(names.filter((n) => !/^(process|nodejs)_/.test(n) && !n.startsWith('driftwatch_')), [], `${who}: every other metric is driftwatch_*`);
      t.match(text, /^driftwatch_ready [01]$/m, `${who}: readiness as a metric`);
    }
  });

  t.test('the state gauges carry bounded labels and real values', async (t) => {
    const open = [...collectorText.matchAll(/^driftwatch_deviations_open\{namespace="([^"]+)",severity="([^"]+)"\} (\d+)$/gm)];
    t.ok(open.length > 0, 'open deviations by namespace and severity');
    t.ok(open.every((m) => ['info', 'low', 'medium', 'high', 'critical'].includes(m[2]!) && Number(m[3]) > 0), 'severity is one of five; counts are positive');
    t.ok(open.every((m) => /^[a-z0-9-]+$/.test(m[1]!)), 'namespace is a namespace name, nothing finer');
    const baselines = Object.fromEntries([...collectorText.matchAll(/^driftwatch_baselines\{state="(\w+)"\} (\d+)$/gm)].map((m) => [m[1]!, Number(m[2])]));
    t.same(Object.keys(baselines).sort(), ['active', 'approved', 'learning', 'rejected', 'superseded'], 'every baseline state has a series');
    t.ok((baselines['active'] ?? 0) > 0, 'the replay activated baselines');
    t.match(agentText, /^driftwatch_agent_ship_lag_seconds \d/m, 'agent lag');
    t.match(agentText, /^driftwatch_agent_collector_connected 1$/m, 'agent connected');
    t.match(collectorText, /^driftwatch_ready 1$/m, 'the collector is ready');
  });

  t.equal(await agent.stop(), 0);
  t.equal(await collector.stop(), 0);
});
