/**
 * One place per fact: a source kind or a sink type is its own file plus one registry line. Here a
 * toy source and a toy sink are defined exactly as a new one would be (defineSource, defineSink)
 * and added to the registries' lists: their keys validate in the configuration (errors with file
 * and line), their items reach `create` typed, and the toy kind's observations pass the wire —
 * with no change to common/. The shared schema and wire files name no kind at all.
 */
import t, { type Test } from 'tap';
import { Type } from '@sinclair/typebox';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SOURCE_KINDS, SOURCES } from '../../agent/sources/index.js';
import { defineSource } from '../../agent/sources/definition.js';
import { SINKS } from '../../collector/sinks/index.js';
import { defineSink, type Sink } from '../../collector/sinks/types.js';
import { configSchemaFor, loadConfig } from '../../cli/config.js';
import { ConfigError } from '../../common/config/errors.js';
import { kindedItemSchema } from '../../common/config/kinds.js';
import { configLoader } from '../../common/config/load.js';
import { emptyCounters } from '../../common/model.js';
import { packagePath } from '../../common/paths.js';
import { decodeObservationMessage, encodeObservationMessage, observationToWire, validateWireObservation } from '../../common/wire.js';
import { processObservation } from '../helpers/observations.js';

const toySource = defineSource({
  kind: 'toy-probe',
  fields: { depth: Type.Optional(Type.Integer({ minimum: 1 })) },
  create: (cfg) => ({
    kind: cfg.kind,
    name: `${cfg.name ?? cfg.kind}-depth-${cfg.depth ?? 1}`,
    counters: emptyCounters(),
    connected: false,
    lastEventMs: 0,
    start: async () => undefined,
    close: async () => undefined,
  }),
});

const toySink = defineSink({
  type: 'toy-pager',
  fields: { routingKey: Type.Optional(Type.String({ minLength: 8 })) },
  requireOneOf: [['routingKey']],
  keepAlive: false,
  create: (config): Sink => ({
    name: `${config.name}:${config.routingKey!}`,
    type: config.type,
    maxBatch: 1,
    send: async () => ({ result: 'ok' }),
    close: async () => undefined,
  }),
});

const loadWithToys = configLoader(configSchemaFor([...SOURCES, toySource], [...Object.values(SINKS), toySink]));

function fileWith(t: Test, yaml: string): string {
  const file = join(t.testdir(), 'driftwatch.yaml');
  writeFileSync(file, yaml);
  return file;
}

const TOY_CONFIG = `agent:
  sources:
    - kind: toy-probe
      depth: 3
collector:
  alerting:
    sinks:
      - name: pager
        type: toy-pager
        routingKey: key-0123456789
`;

t.test('a new source kind and sink type validate in the configuration with their own keys', async (t) => {
  const { config } = loadWithToys({ file: fileWith(t, TOY_CONFIG), env: {} });
  const source = config.agent.sources[0]!;
  t.equal(source.kind, 'toy-probe');
  // The toy needs none of the dependencies a real source is given.
  t.equal(toySource.create(source, undefined as never).name, 'toy-probe-depth-3', 'the source gets its own key, typed');
  const sinkItem = config.collector.alerting.sinks[0]!;
  t.match(sinkItem, { type: 'toy-pager', routingKey: 'key-0123456789', enabled: true, minSeverity: 'low', timeout: '5s' }, 'the common block is filled in');
  t.equal(toySink.create(sinkItem, { now: Date.now, hostname: 'h', stdout: process.stdout }).name, 'pager:key-0123456789');

  const bad = fileWith(t, TOY_CONFIG.replace('depth: 3', 'depth: 0'));
  t.throws(() => loadWithToys({ file: bad, env: {} }), { name: 'ConfigError', message: /driftwatch\.yaml:4:14: agent\.sources\.0\.depth: must be >= 1/ });
});

t.test('without its registry line a kind is refused, naming the registered ones', async (t) => {
  const file = fileWith(t, 'agent:\n  sources:\n    - kind: toy-probe\n');
  t.throws(() => loadConfig({ file, env: {} }), new ConfigError(file, 'agent.sources.0.kind', `must be one of ${SOURCE_KINDS.map((k) => JSON.stringify(k)).join(', ')}`, 3, 13));
});

t.test('the collector takes any well-formed source kind on the wire, and only well-formed ones', async (t) => {
  const now = Date.parse('2026-11-30T12:00:00Z');
  const overWire = (source: string): string | null => {
    const wire = observationToWire({ ...processObservation(1, { time: now - 1000 }), source });
    return validateWireObservation(decodeObservationMessage(encodeObservationMessage(wire)), now);
  };
  t.equal(overWire('toy-probe'), null, 'a kind no shared code lists');
  for (const kind of SOURCE_KINDS) t.equal(overWire(kind), null, kind);
  for (const bad of ['', 'Toy', 'toy probe', 'toy_probe', '-toy', `t${'o'.repeat(63)}`, 'toy\u202eprobe']) t.equal(overWire(bad), 'bad-source', JSON.stringify(bad));
});

t.test('registries are checked when the schema is composed', async (t) => {
  const common = { kind: Type.String({ pattern: '^[a-z][a-z0-9-]*$' }) };
  const optionalName = { name: Type.Optional(Type.String()) };
  t.throws(() => kindedItemSchema('things', common, 'kind', [{ name: 'a', fields: {} }, { name: 'a', fields: {} }]), /"a" is registered twice/);
  t.throws(() => kindedItemSchema('things', common, 'kind', [{ name: 'Bad Kind', fields: {} }]), /does not match/);
  t.throws(() => kindedItemSchema('things', common, 'kind', [{ name: 'a', fields: { kind: Type.Optional(Type.String()) } }]), /a\.kind: redeclares a key of the common block/);
  t.throws(() => kindedItemSchema('things', common, 'kind', [{ name: 'a', fields: { url: Type.String() } }]), /a\.url: a kind's key must be optional or have a default/);
  t.throws(
    () => kindedItemSchema('things', common, 'kind', [{ name: 'a', fields: optionalName }, { name: 'b', fields: { name: Type.Optional(Type.Integer()) } }]),
    /b\.name: declared differently by another kind/,
  );
  t.doesNotThrow(() => kindedItemSchema('things', common, 'kind', [{ name: 'a', fields: optionalName }, { name: 'b', fields: optionalName }]), 'a key shared alike');
});

t.test('the shared configuration schema and wire contract name no source kind or sink type', async (t) => {
  const shared = [
    ...readdirSync(packagePath('common', 'config')).map((f) => join('common', 'config', f)),
    join('common', 'model.ts'),
    join('common', 'wire.ts'),
  ];
  const kinds = [...SOURCE_KINDS, ...Object.keys(SINKS)];
  const named = shared.flatMap((file) => {
    const text = readFileSync(packagePath(file), 'utf8');
    return kinds.filter((k) => text.includes(`'${k}'`) || text.includes(`"${k}"`)).map((k) => `${file} names ${k}`);
  });
  t.same(named, []);
});
