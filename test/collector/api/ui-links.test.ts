/** Deep links: a console path route is answered with its hash route, relative to where it was asked. */
import t from 'tap';
import { uiHashRedirect } from '../../../collector/api/ui-links.js';
import { startHarness } from '../../helpers/api-harness.js';

t.test('path routes map to hash routes, relative so a proxy prefix survives', async (t) => {
  t.equal(uiHashRedirect('GET', '/ui/deviations/7'), '../#/deviations/7');
  t.equal(uiHashRedirect('GET', '/ui/deviations/7/'), '../../#/deviations/7');
  t.equal(uiHashRedirect('HEAD', '/ui/deviations?namespace=shop&workload=web'), './#/deviations?namespace=shop&workload=web');
  t.equal(uiHashRedirect('GET', '/ui/baselines/12'), '../#/baselines/12');
  t.equal(uiHashRedirect('POST', '/ui/deviations/7'), null, 'only reads');
  t.equal(uiHashRedirect('GET', '/ui/missing.js'), null, 'a file name stays a 404');
  t.equal(uiHashRedirect('GET', '/ui/pages/../x'), null, 'dot segments are not routes');
  t.equal(uiHashRedirect('GET', '/ui//evil.example'), null, 'an empty segment is not a route');
  t.equal(uiHashRedirect('GET', '/api/v1/nothing'), null, 'only under /ui/');
  t.equal(uiHashRedirect('GET', '/ui/deviations?q=\u00e9'), null, 'a query that is not printable ASCII is not copied into a header');
});

t.test('the server redirects deep links and still 404s what is neither a file nor a route', async (t) => {
  const h = await startHarness(t);
  const res = await fetch(`${h.base}/ui/deviations/42?x=1`, { redirect: 'manual' });
  t.equal(res.status, 302);
  t.equal(res.headers.get('location'), '../#/deviations/42?x=1');
  t.equal(new URL(res.headers.get('location')!, res.url).href, `${h.base}/ui/#/deviations/42?x=1`);
  t.equal((await fetch(`${h.base}/ui/app.js`)).status, 200, 'files are still served');
  const missing = await h.call('GET', '/ui/nope.js');
  t.equal(missing.status, 404);
  t.equal(missing.body.code, 'DW_ERR_NOT_FOUND');
  t.equal((await h.call('GET', '/api/v1/deviations/7/nothing')).status, 404, 'API paths are never redirected');
});
