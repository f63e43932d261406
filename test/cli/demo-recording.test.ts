/** The demo's recording moved to the present: every timestamp by the same amount, nothing else. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { shiftRecording } from '../../cli/demo-recording.js';

t.test('every timestamp moves by one whole-second amount; gaps, other strings and malformed lines stay', async (t) => {
  const dir = t.testdir();
  const source = join(dir, 'in.jsonl');
  const lines = [
    JSON.stringify({ process_exec: { process: { start_time: '2026-11-30T07:59:59.700Z', arguments: '--since=2026-11-30T07:00:00Z' } }, time: '2026-11-30T08:00:00.000Z' }),
    'not json {',
    JSON.stringify({ process_exit: { process: { start_time: '2026-11-27T08:00:00Z' } }, time: '2026-11-30T10:58:18.000Z' }),
    '',
  ];
  writeFileSync(source, lines.join('\n'));
  const target = join(dir, 'out.jsonl');
  const end = Date.parse('2030-01-02T03:04:05.678Z');
  const { shiftMs, events } = shiftRecording(source, target, end)!;
  t.equal(events, 2);
  t.equal(shiftMs % 1000, 0);
  const out = readFileSync(target, 'utf8').split('\n');
  t.equal(out.length, lines.length, 'one line for one line');
  t.equal(out[1], 'not json {', 'a malformed line is copied as it is (the agent counts it)');
  const first = JSON.parse(out[0]!) as { time: string; process_exec: { process: { start_time: string; arguments: string } } };
  const last = JSON.parse(out[2]!) as { time: string; process_exit: { process: { start_time: string } } };
  t.equal(last.time, '2030-01-02T03:04:05.000Z', 'the last event is at the end time (whole seconds)');
  t.equal(Date.parse(last.time) - Date.parse(first.time), Date.parse('2026-11-30T10:58:18Z') - Date.parse('2026-11-30T08:00:00Z'), 'gaps are kept');
  t.equal(Date.parse(first.time) - Date.parse(first.process_exec.process.start_time), 300, 'start times move with the events');
  t.equal(Date.parse(last.process_exit.process.start_time), Date.parse('2026-11-27T08:00:00Z') + shiftMs);
  t.equal(first.process_exec.process.arguments, '--since=2026-11-30T07:00:00Z', 'text that merely contains a time is data, not moved');
});

t.test('a recording without event times has nothing to move: replayed as it is', async (t) => {
  const dir = t.testdir({ 'empty.jsonl': '', 'untimed.jsonl': '{"a":1}\n' });
  for (const f of ['empty.jsonl', 'untimed.jsonl']) t.equal(shiftRecording(join(dir, f), join(dir, 'out.jsonl'), Date.now()), null, f);
  t.notOk(existsSync(join(dir, 'out.jsonl')), 'nothing written');
});
