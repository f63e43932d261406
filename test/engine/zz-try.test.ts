import t from 'tap';
import { generateScenario, Replay, deviationKey, interleave } from '../helpers/scenario.js';
t.test('try', async () => {
  const ev = generateScenario();
  for (const [name, order] of [['time', ev], ['chunk25', interleave(ev, 25, ['node-a','node-b','node-c'])], ['chunk60rev', interleave(ev, 60, ['node-c','node-b','node-a'])], ['whole', interleave(ev, 100000, ['node-b','node-a','node-c'])]] as const) {
    const r = new Replay();
    await r.start();
    r.feed(order);
    console.log(name, JSON.stringify(r.stats), r.deviations().filter(d => d.status === 'open').map(deviationKey).join('\n  '));
    console.log('  resolved:', r.deviations().filter(d => d.status !== 'open').map(deviationKey).join(', '));
    if (name === 'xx') console.log(r.db.all('SELECT b.id, item_key, i.phase, count, origin FROM baseline_items i JOIN baselines b ON b.id = i.baseline_id ORDER BY b.id, item_key'));
    await r.close();
  }
});
