/**
 * File / stdin sources (JSON lines) and `driftwatch observe`: replays give the same observations
 * as the normalisers, follow mode picks up appended lines, malformed lines are counted, a full
 * sink makes the reader wait instead of dropping.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { appendFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { normaliseTetragon, type TetragonEvent } from '../../../agent/normalise/tetragon.js';
import { FileSource } from '../../../agent/sources/file.js';
import { loadConfig } from '../../../cli/config.js';
import { silentLogger } from '../../../common/logger.js';
import { packagePath } from '../../../common/paths.js';
import { runObserve } from '../../../cli/observe.js';
import { CollectingSink, comparable, fixture, jsonLines, newContext, newDeps, until } from '../../helpers/agent-support.js';

t.test('tetragon-json replay equals the normaliser; bad lines counted', async (t) => {
  const dir = t.testdir();
  const path = join(dir, 'events.json');
  writeFileSync(path, readFileSync(fixture('tetragon', 'process_exec.json'), 'utf8') + 'not json\n\n' + readFileSync(fixture('tetragon', 'process_kprobe_tcp.json'), 'utf8').trimEnd());
  const sink = new CollectingSink();
  const source = new FileSource({ kind: 'tetragon-json', address: path }, newDeps(sink));
  await source.start();
  await source.done;
  await source.close();
  const ctx = newContext('tetragon-json');
  const expected = [...jsonLines(fixture('tetragon', 'process_exec.json')), ...jsonLines(fixture('tetragon', 'process_kprobe_tcp.json'))]
    .map((e) => normaliseTetragon(e as TetragonEvent, ctx))
    .filter((r) => typeof r !== 'string');
  t.same(comparable(sink.observations), comparable(expected));
  t.equal(source.counters.malformed, 1, 'the bad line');
  t.equal(source.counters.seen, 24 + 4 + 1, 'blank lines are not events; the last line has no newline');
  t.notOk(source.connected, 'done reading');
});

t.test('back-pressure: the reader waits for the sink, nothing dropped', async (t) => {
  const dir = t.testdir();
  const path = join(dir, 'events.json');
  const line = jsonLines(fixture('tetragon', 'process_exec.json'))[1];
  writeFileSync(path, Array.from({ length: 500 }, () => JSON.stringify(line)).join('\n') + '\n');
  const sink = new CollectingSink();
  sink.block();
  const source = new FileSource({ kind: 'tetragon-json', address: path }, newDeps(sink));
  t.teardown(() => source.close());
  await source.start();
  await until(() => sink.refused > 0, 5000, 'refusal');
  await new Promise((r) => setTimeout(r, 50));
  t.equal(source.counters.seen, 1, 'stopped reading at the first refusal');
  sink.release();
  await source.done;
  t.equal(sink.observations.length, 500);
  t.equal(source.counters.dropped, 0);
});

t.test('speed: a replay keeps the recorded pace, scaled', async (t) => {
  const dir = t.testdir();
  const path = join(dir, 'events.json');
  const line = jsonLines(fixture('tetragon', 'process_exec.json'))[1] as { time?: string };
  // Three events 2 s apart in event time, replayed 20× faster: at least 200 ms in all.
  const at = (s: number) => JSON.stringify({ ...line, time: new Date(Date.parse('2026-11-30T08:00:00Z') + s * 1000).toISOString() });
  writeFileSync(path, [at(0), at(2), at(4)].join('\n') + '\n');
  const sink = new CollectingSink();
  const source = new FileSource({ kind: 'tetragon-json', address: path, speed: 20 }, newDeps(sink));
  const started = performance.now();
  await source.start();
  await source.done;
  await source.close();
  t.equal(sink.observations.length, 3);
  // A lower bound only: sleeps never end early, so this cannot flake on a slow machine.
  t.ok(performance.now() - started >= 195, 'the second and third events waited for their time');
});

t.test('follow mode: tail -f from the end, whole lines, rotation, a file that appears late', async (t) => {
  const dir = t.testdir();
  const path = join(dir, 'tetragon.log');
  const lines = readFileSync(fixture('tetragon', 'process_kprobe_tcp.json'), 'utf8').split('\n').filter(Boolean);
  const sink = new CollectingSink();
  const source = new FileSource({ kind: 'tetragon-json', address: path, follow: true }, newDeps(sink));
  t.teardown(() => source.close());
  await source.start();
  await new Promise((r) => setTimeout(r, 300));
  t.notOk(source.connected, 'waiting for the file to appear');
  writeFileSync(path, lines[0] + '\n');
  await sink.waitFor(1);
  t.ok(source.connected, 'a file that appears later is read from its start');
  appendFileSync(path, lines[2] + '\n' + lines[3]!.slice(0, 100));
  await sink.waitFor(2);
  appendFileSync(path, lines[3]!.slice(100) + '\n');
  await sink.waitFor(3);
  t.equal(source.counters.malformed, 0, 'a line written in two parts is read once, whole');
  renameSync(path, path + '.1');
  writeFileSync(path, lines[0] + '\n');
  await sink.waitFor(4);
  t.pass('a rotated file is followed from the top of the new one');

  // A restarted agent does not replay what the log already holds.
  const sink2 = new CollectingSink();
  const again = new FileSource({ kind: 'tetragon-json', address: path, follow: true }, newDeps(sink2));
  t.teardown(() => again.close());
  await again.start();
  await until(() => again.connected, 5000, 'open');
  await new Promise((r) => setTimeout(r, 300));
  t.equal(sink2.observations.length, 0, 'existing content is skipped');
  appendFileSync(path, lines[3] + '\n');
  await sink2.waitFor(1);
});

t.test('observe: prints canonical observations as JSON lines', async (t) => {
  const out = new PassThrough();
  let text = '';
  out.on('data', (c: Buffer) => (text += c.toString()));
  const config = loadConfig({ overrides: { cluster: 'lab', 'agent.kubernetes.mode': 'off' } });
  const { observed } = await runObserve(config, { source: 'falco-json', from: fixture('falco', 'process_spawn.json'), node: 'n1' }, { stdout: out, logger: silentLogger() });
  const lines = text.trim().split('\n').map((l) => JSON.parse(l) as { kind: string; source: string; workload: { cluster: string } });
  t.equal(observed, 7);
  t.equal(lines.length, 7);
  t.ok(lines.every((l) => l.kind === 'process' && l.source === 'falco-json' && l.workload.cluster === 'lab'));
});

t.test('observe says what it reads or waits for, and why nothing came', async (t) => {
  const dir = t.testdir({ 'junk.json': 'not json\n{"node_name":"n"}\n' });
  const config = loadConfig({ overrides: { cluster: 'lab', 'agent.kubernetes.mode': 'off' } });
  const status = new PassThrough();
  let said = '';
  status.on('data', (c: Buffer) => (said += c.toString()));
  const { observed } = await runObserve(config, { source: 'tetragon-json', from: join(dir, 'junk.json'), node: 'n1' }, { stdout: new PassThrough(), logger: silentLogger(), status });
  t.equal(observed, 0);
  t.match(said, `reading tetragon-json events from ${join(dir, 'junk.json')}\n`);
  t.match(said, /no observations: 2 events seen, 1 malformed, 1 not process or network events\n/);
  said = '';
  let stop!: () => void;
  const running = runObserve(config, { source: 'falco-http', from: '127.0.0.1:0', node: 'n1' }, { stdout: new PassThrough(), logger: silentLogger(), status, until: new Promise<void>((r) => (stop = r)) });
  await until(() => said.includes('waiting'), 5000, 'the waiting line');
  t.match(said, 'waiting for falco-http events from 127.0.0.1:0 (Ctrl-C to stop)');
  stop();
  await running;
});

t.test('driftwatch observe (the CLI): escapes control characters of attacker-controlled strings', async (t) => {
  const dir = t.testdir();
  const path = join(dir, 'evil.json');
  const ev = jsonLines(fixture('tetragon', 'process_exec.json'))[1] as { process_exec: { process: { arguments: string } } };
  // C0 (ESC, BEL), C1 (CSI), bidi overrides and isolates, line / paragraph separators.
  ev.process_exec.process.arguments = '\u001b[2J\u001b]0;pwned\u0007 --flag \u009b31m \u202egnp.exe\u202c \u2066x\u2069 a\u2028b\u2029c';
  writeFileSync(path, JSON.stringify(ev) + '\n');
  const loader = process.execArgv.find((a) => a.includes('@tapjs/typescript'));
  const args = loader ? [loader, packagePath('cli', 'main.ts')] : [packagePath('dist', 'cli', 'main.js')];
  const child = spawn(process.execPath, [...args, 'observe', '--source', 'tetragon-json', '--from', path], {
    env: { ...process.env, NODE_OPTIONS: '', DRIFTWATCH_AGENT__KUBERNETES__MODE: 'off' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  t.equal(code, 0);
  t.notMatch(stdout, /\u001b/, 'no raw escape character reaches the terminal');
  t.notMatch(stdout, /[\u0080-\u009f\u202a-\u202e\u2066-\u2069\u2028\u2029]/, 'nor C1, bidi or separator characters');
  t.match(stdout, /\\u009b31m \\u202egnp\.exe\\u202c \\u2066x\\u2069 a\\u2028b\\u2029c/, 'they are \\uXXXX escapes');
  const obs = JSON.parse(stdout.trim()) as { process: { args: string } };
  t.equal(obs.process.args, ev.process_exec.process.arguments, 'the value itself is intact');
});
