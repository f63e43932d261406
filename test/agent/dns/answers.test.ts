import t from 'tap';
import { DnsAnswers } from '../../../agent/dns/answers.js';
import type { WorkloadId } from '../../../common/model.js';
import { dnsQuery, dnsResponse } from '../../helpers/dns-wire.js';

const A: WorkloadId = { cluster: 'c', namespace: 'shop', kind: 'Deployment', name: 'api', container: 'api' };
const B: WorkloadId = { cluster: 'c', namespace: 'shop', kind: 'Deployment', name: 'web', container: 'nginx' };
const T = Date.UTC(2026, 11, 1);

t.test('an answer names its addresses for the workload that asked, through CNAME chains', (t) => {
  const dns = new DnsAnswers({ graceMs: 60_000 });
  t.equal(dns.record(A, dnsResponse({ name: 'Bucket.S3.eu-west-1.amazonaws.com.', cnames: ['s3-r-w.eu-west-1.amazonaws.com'], addresses: ['52.218.1.2', '52.218.9.9'], ttl: 5 }), T), 'recorded');
  t.equal(dns.nameOf(A, '52.218.9.9', T + 1000), 'bucket.s3.eu-west-1.amazonaws.com', 'the question, lower case, no trailing dot');
  t.equal(dns.nameOf(B, '52.218.9.9', T + 1000), null, 'another workload did not ask');
  t.equal(dns.nameOf(A, '52.218.9.9', T + 5000 + 60_000), 'bucket.s3.eu-west-1.amazonaws.com', 'kept for the grace period after the TTL');
  t.equal(dns.nameOf(A, '52.218.9.9', T + 5000 + 60_001), null, 'then forgotten');
  t.end();
});

t.test('queries, failures and garbage are not answers', (t) => {
  const dns = new DnsAnswers();
  t.equal(dns.record(A, dnsQuery('example.com'), T), 'not-an-answer');
  t.equal(dns.record(A, dnsResponse({ name: 'nope.example', addresses: [], rcode: 'NXDOMAIN' }), T), 'not-an-answer');
  t.equal(dns.record(A, Buffer.from([1, 2, 3]), T), 'undecodable');
  t.equal(dns.size, 0);
  t.end();
});

t.test('IPv6 answers; the cache is bounded, oldest out first', (t) => {
  const dns = new DnsAnswers({ maxEntries: 2 });
  dns.record(A, dnsResponse({ name: 'api.stripe.com', addresses: ['2600:1f18::1'] }), T);
  t.equal(dns.nameOf(A, '2600:1f18::1', T), 'api.stripe.com');
  dns.record(A, dnsResponse({ name: 'a.example', addresses: ['198.51.100.1', '198.51.100.2'] }), T);
  t.equal(dns.size, 2, 'the oldest entry made room');
  t.equal(dns.nameOf(A, '2600:1f18::1', T), null);
  t.end();
});
