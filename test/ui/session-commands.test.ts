/**
 * An interactive session's deviation page, in headless Chromium: every command of the session with
 * its own time, its arguments and its parents — all twelve, not the first five executables.
 */
import t from 'tap';
import type { ProcessObservation } from '../../common/model.js';
import { launchBrowser, NEEDS_CHROMIUM, signIn } from '../helpers/browser.js';
import { HOUR, learnScene, proc, startHarness, T0 } from '../helpers/api-harness.js';
import { SESSION_COMMANDS } from '../helpers/session-commands.js';

const COMMANDS = SESSION_COMMANDS;

/** A command typed into a `kubectl exec` shell: outside the init tree, one session id. */
function typed(at: number, exe: string, args: string, w: Parameters<typeof proc>[0]): ProcessObservation {
  const o = proc(w, at, exe, args);
  const ancestors = exe === '/bin/bash' ? [{ exe: '/usr/bin/runc', args: 'exec', pid: 900, execId: 'runc' }] : [{ exe: '/bin/bash', args: '', pid: 950, execId: 'bash' }, { exe: '/usr/bin/runc', args: 'exec', pid: 900, execId: 'runc' }];
  return { ...o, process: { ...o.process, execId: `cmd-${at}`, parentExe: ancestors[0]!.exe, ancestors, inInitTree: false, sessionId: 'session-7' } };
}

t.test('a session deviation page lists every command with its time, arguments and parents', NEEDS_CHROMIUM, async (t) => {
  const h = await startHarness(t);
  const { web } = await learnScene(h);
  const start = T0 + 3 * HOUR;
  const times = COMMANDS.map((_c, i) => start + i * 7000);
  await h.ingest(...COMMANDS.map(([exe, args], i) => typed(times[i]!, exe, args, web)));
  const found = await h.store.deviations.find(await h.baselineOf(web), 's|session-7');
  t.ok(found, 'one session deviation');
  const session = found!.deviation;

  const browser = await launchBrowser(t);
  const page = await browser.newPage();
  await signIn(page, `${h.base}/ui/deviations/${session.id}`, h.tokens.viewer);
  const section = page.locator('section[aria-label="Commands in this session"]');
  await section.waitFor();
  t.match(await section.locator('h2').textContent(), 'Commands in this session (12)');
  const rows = await section.locator('li').evaluateAll((lis) => lis.map((li) => (li as unknown as { textContent: string }).textContent));
  t.equal(rows.length, 12, 'all twelve commands');
  rows.forEach((row, i) => {
    const [exe, args] = COMMANDS[i]!;
    t.match(row, new Date(times[i]!).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z'), `command ${i + 1}: its own time`);
    t.match(row, args ? `${exe} ${args}` : exe, `command ${i + 1}: its command line`);
  });
  t.match(rows[3], '← /bin/bash ← /usr/bin/runc exec', 'and its parents');
  const datetimes = await section.locator('time').evaluateAll((ts) => ts.map((x) => (x as unknown as { getAttribute(n: string): string }).getAttribute('datetime')));
  t.same(datetimes, times.map((ms) => new Date(ms).toISOString()), 'machine-readable times');
});
