/** The cut itself, and what the collector's validation still refuses (a closed set of reasons). */
import t from 'tap';
import { clipText, isClipped } from '../../common/field-limits.js';
import { observationToWire, validateWireObservation, WIRE_REJECT_REASONS } from '../../common/wire.js';
import { processObservation } from '../helpers/observations.js';

t.test('clipText: within the limit, the marker counts the UTF-8 bytes cut, never a split character', async (t) => {
  t.equal(clipText('short', 10), 'short', 'fits: unchanged');
  const cut = clipText('a'.repeat(100), 40);
  t.ok(cut.length <= 40, `at most the limit (${cut.length})`);
  t.match(cut, /^a+…\[truncated \d+ bytes\]$/);
  t.equal(cut.indexOf('…') + Number(/(\d+) bytes/.exec(cut)![1]), 100, 'kept + cut = all');
  const emoji = clipText('😀'.repeat(50), 41);
  t.notOk(/[\ud800-\udbff](?![\udc00-\udfff])/.test(emoji), 'no lone high surrogate');
  const kept = emoji.slice(0, emoji.indexOf('…'));
  t.equal(Buffer.byteLength(kept) + Number(/(\d+) bytes/.exec(emoji)![1]), 200, 'bytes, not characters: 4 per emoji');
  t.ok(isClipped(cut) && !isClipped('a …[truncated x bytes]'), 'the marker is recognised');
});

t.test('validation refuses only what makes an observation meaningless, with a reason from a closed set', async (t) => {
  const now = Date.parse('2026-12-01T00:00:00Z');
  const ok = () => observationToWire(processObservation(1, { time: now - 1000 }));
  t.equal(validateWireObservation(ok(), now), null);
  const cases: [string, (w: ReturnType<typeof ok>) => void][] = [
    ['missing-workload', (w) => (w.workload.name = '')],
    ['bad-workload-kind', (w) => (w.workload.kind = 'Galaxy')],
    ['bad-source', (w) => (w.source = 'Sys Log')],
    ['bad-event-time', (w) => (w.timeMs = now + 3_600_000)],
    ['missing-process', (w) => ((w as { process: unknown }).process = null)],
    ['bad-direction', (w) => (w.network = { direction: 'sideways', protocol: 'tcp' })],
    ['bad-protocol', (w) => (w.network = { direction: 'egress', protocol: 'sctp' })],
  ];
  for (const [reason, spoil] of cases) {
    const w = ok();
    spoil(w);
    t.equal(validateWireObservation(w, now), reason, reason);
  }
  t.same(cases.map(([r]) => r).sort(), [...WIRE_REJECT_REASONS].sort(), 'every reason exercised');
  const longText = ok();
  longText.process.args = 'x'.repeat(100_000);
  longText.process.exe = `/${'y'.repeat(10_000)}`;
  t.equal(validateWireObservation(longText, now), null, 'oversized text is no reason (it is cut, see observationFromWire)');
  const badStart = ok();
  badStart.containerStartMs = 1;
  t.equal(validateWireObservation(badStart, now), null, 'an impossible container start is not a reason either…');
  t.equal(badStart.containerStartMs, null, '… it becomes unknown (no start-up grace)');
});
