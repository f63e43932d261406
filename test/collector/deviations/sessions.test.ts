/**
 * An interactive session's deviation keeps every command with its own event time, arguments and
 * lineage, in event-time order whatever order they arrive in; past MAX_SESSION_COMMANDS the rest
 * are counted, never silently dropped. Alerts list them (bounded, with "N more").
 */
import t from 'tap';
import { MAX_SESSION_COMMANDS } from '../../../common/deviations.js';
import { MAX_ALERT_COMMANDS, toBrief } from '../../../collector/outbox/brief.js';
import { T0, exec, fixture } from '../../helpers/detection.js';

const SHELL = { exe: '/bin/bash', args: '', pid: 950, execId: 'bash' };
const RUNC = { exe: '/usr/bin/runc', args: 'exec --detach abc', pid: 900, execId: 'runc' };

function typed(exe: string, time: number, args = '') {
  return exec(exe, { time, args, process: { inInitTree: false, sessionId: 'debug-1', ancestors: exe === '/bin/bash' ? [RUNC] : [SHELL, RUNC] } });
}

t.test('each command with its time, arguments and lineage, in event-time order', async (t) => {
  const f = await fixture();
  t.teardown(() => f.close());
  await f.feed(typed('/bin/bash', T0));
  // Arriving out of order (two nodes' batches): kept in event-time order.
  await f.feed(typed('/bin/cat', T0 + 20_000, '/etc/shadow'), typed('/usr/bin/id', T0 + 10_000));
  const d = (await f.engine.getDeviation(1))!;
  t.same(d.commands, [
    { exe: '/bin/bash', args: '', timeMs: T0, lineage: ['/usr/bin/runc exec --detach abc'] },
    { exe: '/usr/bin/id', args: '', timeMs: T0 + 10_000, lineage: ['/bin/bash', '/usr/bin/runc exec --detach abc'] },
    { exe: '/bin/cat', args: '/etc/shadow', timeMs: T0 + 20_000, lineage: ['/bin/bash', '/usr/bin/runc exec --detach abc'] },
  ]);
  t.equal(d.commandsOmitted, undefined, 'none left out');
  t.match(d.summary, /^interactive session: 3 commands/);
});

t.test('past the bound: the earliest commands kept, the rest counted; the alert lists some and says how many more', async (t) => {
  const f = await fixture();
  t.teardown(() => f.close());
  const total = MAX_SESSION_COMMANDS + 7;
  await f.feed(typed('/bin/bash', T0));
  for (let i = 1; i < total; i += 20) {
    await f.feed(...Array.from({ length: Math.min(20, total - i) }, (_v, k) => typed(`/usr/bin/cmd-${i + k}`, T0 + (i + k) * 1000)));
  }
  const d = (await f.engine.getDeviation(1))!;
  t.equal(d.commands!.length, MAX_SESSION_COMMANDS);
  t.equal(d.commands![MAX_SESSION_COMMANDS - 1]!.exe, `/usr/bin/cmd-${MAX_SESSION_COMMANDS - 1}`, 'the earliest are kept');
  t.equal(d.commandsOmitted, 7, 'the rest are counted');
  t.match(d.summary, new RegExp(`^interactive session: ${total} commands`), 'the summary counts them all');

  const brief = toBrief(d, 'https://driftwatch.example');
  t.equal(brief.commands!.length, MAX_ALERT_COMMANDS, 'an alert lists a bounded number …');
  t.equal(brief.commandsMore, total - MAX_ALERT_COMMANDS, '… and says how many more');
});
