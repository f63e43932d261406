/**
 * Undo of a decision (POST /audit/{id}/undo): a status change, an addition to the baseline and an
 * approval go back to the state before them, for collector.api.undoWindow; each undo is audited on
 * the same target. Refused (409) when the window passed, when something changed since, twice, or
 * for an action that cannot be undone; the role and namespace scope of the action apply.
 */
import t from 'tap';
import { HOUR, learnScene, proc, startHarness, T0 } from '../../helpers/api-harness.js';

const REASON = 'reviewed in the undo test';

t.test('a status change, an addition to the baseline and an approval are undone, and audited', async (t) => {
  const h = await startHarness(t);
  const { web } = await learnScene(h);
  const me = await h.call('GET', '/api/v1/me');
  t.equal(me.body.undoWindowMs, 15 * 60_000, 'the console learns the window (15 minutes by default)');
  const lastAudit = async (type: string, id: number) => (await h.call('GET', `/api/v1/audit?targetType=${type}&targetId=${id}&limit=1`)).body.items[0];

  // Acknowledge, then undo: open again; the undo is on the deviation's history.
  const d = await h.raise(proc(web, T0 + 3 * HOUR, '/usr/bin/extra'));
  t.equal((await h.call('POST', `/api/v1/deviations/${d.id}/ack`, { body: { comment: 'looking' } })).status, 200);
  const ack = await lastAudit('deviation', d.id);
  const undone = await h.call('POST', `/api/v1/audit/${ack.id}/undo`, { token: h.tokens.analyst, body: { comment: 'wrong deviation' } });
  t.equal(undone.status, 200, JSON.stringify(undone.body));
  t.equal((await h.call('GET', `/api/v1/deviations/${d.id}`)).body.deviation.status, 'open');
  t.match(await lastAudit('deviation', d.id), { action: 'deviation.ack.undo', actor: 'token:analyst', comment: 'wrong deviation', before: { status: 'acknowledged' }, after: { status: 'open', undoes: ack.id } });
  // The audit report does not count an undone acknowledgement as the deviation's handling.
  const report = (await h.call('GET', `/api/v1/reports/audit?namespace=team-a&from=0&to=${Date.now() + HOUR}`)).body;
  t.equal(report.handling[d.severity].acknowledged, 0, 'an undone acknowledgement is no acknowledgement');
  t.equal(report.actions['deviation.ack.undo'], 1, 'the undo is a decision of its own');
  const twice = await h.call('POST', `/api/v1/audit/${ack.id}/undo`, { body: {} });
  t.same([twice.status, twice.body.message], [409, `audit entry ${ack.id} was already undone`]);

  // Add to the baseline, then undo: the item leaves the baseline in a new version, the deviation is open.
  const id = await h.baselineOf(web);
  t.equal((await h.call('POST', `/api/v1/deviations/${d.id}/add-to-baseline`, { body: { comment: REASON } })).status, 200);
  t.equal((await h.call('GET', `/api/v1/baselines/${id}`)).body.version, 2);
  const added = await lastAudit('deviation', d.id);
  t.equal((await h.call('POST', `/api/v1/audit/${added.id}/undo`, { token: h.tokens.analyst, body: {} })).status, 403, 'undoing an addition needs the approver role, as adding did');
  t.equal((await h.call('POST', `/api/v1/audit/${added.id}/undo`, { token: h.tokens.approver, body: {} })).status, 200);
  t.equal((await h.call('GET', `/api/v1/deviations/${d.id}`)).body.deviation.status, 'open');
  const b = (await h.call('GET', `/api/v1/baselines/${id}`)).body;
  t.equal(b.version, 3, 'a new version without the item');
  const keys = async (v: number) => (await h.call('GET', `/api/v1/baselines/${id}/items?version=${v}`)).body.items.map((i: { key: string }) => i.key);
  t.notOk((await keys(3)).includes('p|/usr/bin/extra'), 'the item is gone from v3');
  t.ok((await keys(2)).includes('p|/usr/bin/extra'), 'v2 still shows it (history)');
  t.same((await h.call('GET', `/api/v1/baselines/${id}/diff`)).body.removed.map((i: { key: string }) => i.key), ['p|/usr/bin/extra'], 'the diff shows the removal');
  // The item raises again: the deviation counts it.
  await h.ingest(proc(web, T0 + 4 * HOUR, '/usr/bin/extra'));
  t.equal((await h.call('GET', `/api/v1/deviations/${d.id}`)).body.deviation.count, 2, 'a deviation again after the undo');

  // Added again after the undo: in the baseline from the new version on.
  t.equal((await h.call('POST', `/api/v1/deviations/${d.id}/add-to-baseline`, { body: { comment: REASON } })).status, 200, 'added again');
  t.ok((await keys(4)).includes('p|/usr/bin/extra'), 'in v4');
  t.notOk((await keys(3)).includes('p|/usr/bin/extra'), 'not in v3');
  const again = await lastAudit('deviation', d.id);
  t.equal((await h.call('POST', `/api/v1/audit/${again.id}/undo`, { body: {} })).status, 200, 'and undone again');

  // Approve, then undo: active again, with the decision it had before.
  t.equal((await h.call('POST', `/api/v1/baselines/${id}/approve`, { body: { version: 5, comment: REASON } })).status, 200);
  const approval = await lastAudit('baseline', id);
  const unapproved = await h.call('POST', `/api/v1/audit/${approval.id}/undo`, { body: { comment: 'approved the wrong workload' } });
  t.equal(unapproved.status, 200, JSON.stringify(unapproved.body));
  t.match((await h.call('GET', `/api/v1/baselines/${id}`)).body, { phase: 'active', version: 5, decidedBy: null, decisionComment: null });
  t.match(await lastAudit('baseline', id), { action: 'baseline.approve.undo', before: { phase: 'approved' }, after: { phase: 'active', undoes: approval.id } });
});

t.test('refused: past the window, changed since, not undoable, another namespace', async (t) => {
  const h = await startHarness(t);
  const { web, worker } = await learnScene(h);
  const d = await h.raise(proc(web, T0 + 3 * HOUR, '/usr/bin/extra'));
  const entry = async () => (await h.call('GET', `/api/v1/audit?targetType=deviation&targetId=${d.id}&limit=1`)).body.items[0];

  await h.call('POST', `/api/v1/deviations/${d.id}/ack`, { body: {} });
  const ack = await entry();
  await h.call('POST', `/api/v1/deviations/${d.id}/resolve`, { body: {} });
  const changed = await h.call('POST', `/api/v1/audit/${ack.id}/undo`, { body: {} });
  t.same([changed.status, changed.body.message], [409, `deviation ${d.id} is resolved now, not acknowledged: it changed since, decide again instead`]);

  const resolve = await entry();
  h.store.connection.run('UPDATE audit_log SET at = @at WHERE id = @id', { id: resolve.id, at: new Date(Date.now() - 16 * 60_000).toISOString() });
  const late = await h.call('POST', `/api/v1/audit/${resolve.id}/undo`, { body: {} });
  t.equal(late.status, 409);
  t.match(late.body.message, 'is older than the undo window (15m)');
  t.equal((await h.call('GET', `/api/v1/deviations/${d.id}`)).body.deviation.status, 'resolved', 'nothing changed');

  const id = await h.baselineOf(web);
  await h.call('POST', `/api/v1/baselines/${id}/relearn`, { body: { comment: 'relearn in the undo test' } });
  const relearn = (await h.call('GET', `/api/v1/audit?targetType=baseline&targetId=${id}&limit=1`)).body.items[0];
  const notUndoable = await h.call('POST', `/api/v1/audit/${relearn.id}/undo`, { body: {} });
  t.equal(notUndoable.status, 409);
  t.match(notUndoable.body.message, 'baseline.relearn cannot be undone');

  // A scoped token does not see another namespace's entry (as if absent).
  const other = await h.raise(proc(worker, T0 + 3 * HOUR, '/usr/bin/other'));
  await h.call('POST', `/api/v1/deviations/${other.id}/ack`, { body: {} });
  const theirs = (await h.call('GET', `/api/v1/audit?targetType=deviation&targetId=${other.id}&limit=1`)).body.items[0];
  const hidden = await h.call('POST', `/api/v1/audit/${theirs.id}/undo`, { token: h.tokens.scoped, body: {} });
  t.same([hidden.status, hidden.body.message], [404, `no audit entry ${theirs.id}`]);
  t.equal((await h.call('GET', `/api/v1/deviations/${other.id}`)).body.deviation.status, 'acknowledged');
});
