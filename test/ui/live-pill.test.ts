/**
 * The "live" pill of the console follows its WebSocket stream: when the collector drops the
 * stream, the pill says offline, and it returns to live by itself once the stream reconnects —
 * no reload. In headless Chromium against the API harness.
 */
import type { Socket } from 'node:net';
import t from 'tap';
import { NEEDS_CHROMIUM, openOverview } from '../helpers/browser.js';
import { startHarness } from '../helpers/api-harness.js';

t.test('the offline pill recovers when the stream reconnects', NEEDS_CHROMIUM, async (t) => {
  const h = await startHarness(t);
  // The stream's connections, as the server holds them: the test drops them from the server side.
  const streams: Socket[] = [];
  h.ops.httpServer!.on('upgrade', (_req, socket: Socket) => streams.push(socket));
  const { page, problems } = await openOverview(t, h.base, h.tokens.viewer);
  await page.waitForSelector('#live.state-live');
  t.equal(await page.textContent('#live'), 'live');

  for (const round of [1, 2]) {
    const before = streams.length;
    for (const s of streams) s.destroy();
    await page.waitForSelector('#live.state-offline');
    t.equal(await page.textContent('#live'), 'offline', `round ${round}: dropped by the server, the pill says so`);
    await page.waitForSelector('#live.state-live');
    t.equal(await page.textContent('#live'), 'live', `round ${round}: back to live without a reload`);
    t.ok(streams.length > before, `round ${round}: over a new connection`);
  }
  t.same(problems, [], 'no page errors');
});
