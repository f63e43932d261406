import { createSocket } from 'node:dgram';
import dnsPacket from 'dns-packet';
import t, { type Test } from 'tap';
import { DeclaredNameHistory } from '../../../collector/addresses/declared-names.js';
import { MIN, T0, deviationList, exec, fixture, net } from '../../helpers/detection.js';

const HOUR = 60 * MIN;
const NAME = 'api.pay.example';
const SERVFAIL = 2;

/**
 * An authoritative server for the test on 127.0.0.1: A queries for a name get the name's current
 * pool (change it to rotate); anything else gets an empty NOERROR answer.
 */
async function dnsServer(t: Test): Promise<{ port: number; pools: Map<string, string[]>; broken: Set<string>; queries: () => number }> {
  const pools = new Map<string, string[]>();
  /** Names answered with SERVFAIL (an upstream outage). */
  const broken = new Set<string>();
  let queries = 0;
  const socket = createSocket('udp4');
  socket.on('message', (msg, from) => {
    queries++;
    const query = dnsPacket.decode(msg);
    const q = query.questions?.[0];
    const addresses = q && q.type === 'A' ? (pools.get(q.name.toLowerCase()) ?? []) : [];
    const answer = dnsPacket.encode({
      type: 'response',
      id: query.id,
      flags: dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.RECURSION_DESIRED | (q && broken.has(q.name.toLowerCase()) ? SERVFAIL : 0),
      questions: query.questions,
      answers: addresses.map((data) => ({ type: 'A' as const, name: q!.name, ttl: 30, data })),
    });
    socket.send(answer, from.port, from.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  return { port: socket.address().port, pools, broken, queries: () => queries };
}

t.test('a rotating pool accumulates; old answers stay until they expire; bounded per name', async (t) => {
  const dns = await dnsServer(t);
  let now = T0;
  const history = new DeclaredNameHistory({ intervalMs: MIN, keepForMs: HOUR, maxNames: 10, maxAddressesPerName: 3, servers: [`127.0.0.1:${dns.port}`], now: () => now });
  t.teardown(() => history.close());
  history.setNames(['API.Pay.Example.']);

  dns.pools.set(NAME, ['203.0.113.1', '203.0.113.2']);
  await history.resolveAll();
  t.equal(history.nameOf('203.0.113.1'), NAME);
  dns.pools.set(NAME, ['203.0.113.3']);
  now += 40 * MIN;
  await history.resolveAll();
  t.same(history.addressesOf(NAME), ['203.0.113.1', '203.0.113.2', '203.0.113.3'], 'the rotation adds; earlier answers stay');
  t.equal(history.nameOf('203.0.113.9'), null, 'never answered');

  now += 30 * MIN; // .1 and .2 were last answered 70 min ago, .3 30 min ago
  await history.resolveAll();
  t.equal(history.nameOf('203.0.113.1'), null, 'expired an hour after the last answer that carried it');
  t.same(history.addressesOf(NAME), ['203.0.113.3']);

  dns.pools.set(NAME, ['203.0.113.4', '203.0.113.5', '203.0.113.6']);
  await history.resolveAll();
  t.same(history.addressesOf(NAME), ['203.0.113.4', '203.0.113.5', '203.0.113.6'], 'at most 3 per name: the one answered longest ago went');

  history.setNames([]);
  t.equal(history.nameOf('203.0.113.4'), null, 'a name no longer declared is forgotten');
  const before = dns.queries();
  await history.resolveAll();
  t.equal(dns.queries(), before, 'and no longer resolved');
});

t.test('a failing resolution keeps the earlier answers and is reported once, not every round', async (t) => {
  const dns = await dnsServer(t);
  const errors: string[] = [];
  const history = new DeclaredNameHistory({ intervalMs: MIN, keepForMs: HOUR, maxNames: 10, maxAddressesPerName: 8, servers: [`127.0.0.1:${dns.port}`], onError: (name, code) => errors.push(`${name} ${code}`) });
  t.teardown(() => history.close());
  history.setNames([NAME]);
  dns.pools.set(NAME, ['203.0.113.1']);
  await history.resolveAll();
  dns.broken.add(NAME);
  await history.resolveAll();
  await history.resolveAll();
  t.same(errors, [`${NAME} ESERVFAIL`]);
  t.equal(history.nameOf('203.0.113.1'), NAME, 'still that name until it expires');
  dns.broken.delete(NAME);
  await history.resolveAll();
  dns.broken.add(NAME);
  await history.resolveAll();
  t.equal(errors.length, 2, 'reported again after it had recovered');
});

const declared = `apiVersion: driftwatch.dev/v1
kind: Baseline
metadata:
  name: payments
spec:
  selector: { namespace: shop, workload: web }
  allow:
    network:
      - direction: egress
        ports: [443]
        dnsNames: ["${NAME}", "*.cdn.pay.example"]
`;

t.test('an external peer at an address a declared name answered with is that name, without an agent-side answer', async (t) => {
  const dns = await dnsServer(t);
  dns.pools.set(NAME, ['198.51.100.10']);
  dns.pools.set('x.cdn.pay.example', ['198.51.100.99']);
  const f = await fixture({ baselinesDir: t.testdir({ 'payments.yaml': declared }), overrides: { 'collector.network.declaredNames.servers': [`127.0.0.1:${dns.port}`] } });
  t.teardown(() => f.close());
  await f.engine.declaredNames!.resolveAll();
  dns.pools.set(NAME, ['198.51.100.20']); // the pool rotates
  await f.engine.declaredNames!.resolveAll();

  await f.feed(exec('/usr/sbin/nginx', { time: T0 }));
  await f.engine.unitOfWork.tick(T0 + 2 * HOUR);
  const at = T0 + 3 * HOUR;
  await f.feed(
    net('egress', { time: at, peer: '198.51.100.10', port: 443 }),
    net('egress', { time: at + 1, peer: '198.51.100.20', port: 443 }),
    net('egress', { time: at + 2, peer: '198.51.100.30', port: 443 }),
    net('egress', { time: at + 3, peer: '198.51.100.99', port: 443 }),
  );
  t.same(
    deviationList(f),
    ['network n|egress|tcp|443|ip|198.51.100.30 medium open', 'network n|egress|tcp|443|ip|198.51.100.99 medium open'],
    'both answers of the declared name are allowed (no DNS answer seen by the agent); an address it never answered alerts; wildcards are not resolved',
  );
});
