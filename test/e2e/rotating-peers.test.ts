/**
 * External peers that rotate, end to end: Tetragon events (DNS answers from the udp_recvmsg hook,
 * tcp_connect / udp_sendmsg) → a real agent → a real collector → the file sink, on the shipped
 * defaults plus only a learning window and the provider range files in the default directory.
 *
 * - an object-storage client (S3) whose answers rotate across /24s of the provider's pool, and whose
 *   other connections carry no name (a musl resolver): silent, by name and by named set;
 * - a CDN (CloudFront through a CNAME) rotating across its pool: silent; the same process then
 *   reaches another name answering from the very same CDN address (an exfiltration-like shape
 *   that an address baseline cannot see): one alert, naming it;
 * - a new unknown external host without a name: one alert;
 * - DNS-tunnelling-like traffic: datagrams to an outside resolver on udp/53 instead of kube-dns:
 *   one alert, whatever the number of datagrams.
 */
import t from 'tap';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeAddressSetFiles } from '../helpers/address-set-files.js';
import { EndpointRecorder, type Workload } from '../helpers/endpoint-scenario.js';
import { eventually } from '../helpers/processes.js';
import { startRecordingPipeline } from '../helpers/recording-pipeline.js';

const T0 = Date.UTC(2026, 11, 1, 8, 0, 0);
const MIN = 60_000;
const at = (minutes: number, seconds = 0): number => T0 + minutes * MIN + seconds * 1000;

const UPLOADER: Workload = { namespace: 'shop', name: 'uploader', container: 'app', exe: '/usr/local/bin/python3.12', args: '/app/upload.py', podIp: '10.244.1.20', node: 'node-a' };
const FRONTEND: Workload = { namespace: 'storefront', name: 'frontend', container: 'node', exe: '/usr/local/bin/node', args: 'server.js', podIp: '10.244.1.30', node: 'node-a' };
const WORKER: Workload = { namespace: 'payments', name: 'worker', container: 'worker', exe: '/app/worker', args: '--queue=payments', podIp: '10.244.1.40', node: 'node-a' };

const S3_NAME = 'uploads.s3.eu-west-1.amazonaws.com';
const S3_CNAME = ['s3-r-w.eu-west-1.amazonaws.com'];
const CDN_NAME = 'cdn.example-assets.net';
const CDN_CNAME = ['d1a2b3c4d5e6f7.cloudfront.net'];

function recording(): string {
  const r = new EndpointRecorder();
  for (const w of [UPLOADER, FRONTEND, WORKER]) r.start(at(0), w);
  // ---- learning (the first minutes; the window is 30 minutes of event time)
  r.dnsAnswer(at(3), UPLOADER, { name: S3_NAME, cnames: S3_CNAME, addresses: ['52.218.1.10', '52.218.1.11'], ttl: 5 });
  r.connect(at(3, 1), UPLOADER, '52.218.1.10', 443);
  r.connect(at(4), UPLOADER, '3.5.64.20', 443); // no lookup seen (musl): the address is in aws:S3:eu-west-1
  r.dnsAnswer(at(5), UPLOADER, { name: S3_NAME, cnames: S3_CNAME, addresses: ['52.92.16.5'], ttl: 5 });
  r.connect(at(5, 1), UPLOADER, '52.92.16.5', 443);
  r.dnsAnswer(at(3), FRONTEND, { name: CDN_NAME, cnames: CDN_CNAME, addresses: ['13.32.10.1', '13.32.10.2'], ttl: 60 });
  r.connect(at(3, 1), FRONTEND, '13.32.10.1', 443);
  r.dnsAnswer(at(6), FRONTEND, { name: CDN_NAME, cnames: CDN_CNAME, addresses: ['13.33.20.7'], ttl: 60 });
  r.connect(at(6, 1), FRONTEND, '13.33.20.7', 443);
  r.udpSend(at(3), WORKER, '10.96.0.10', 53);
  r.dnsAnswer(at(3), WORKER, { name: 'api.payments-provider.example', addresses: ['192.0.2.80'], ttl: 300 });
  r.connect(at(3, 1), WORKER, '192.0.2.80', 443);

  // ---- enforced (from 90 minutes on): rotation, all silent
  r.dnsAnswer(at(90), UPLOADER, { name: S3_NAME, cnames: S3_CNAME, addresses: ['52.218.77.5'], ttl: 5 });
  r.connect(at(90, 1), UPLOADER, '52.218.77.5', 443);
  r.dnsAnswer(at(91), UPLOADER, { name: S3_NAME, cnames: S3_CNAME, addresses: ['52.92.200.9'], ttl: 5 });
  r.connect(at(91, 1), UPLOADER, '52.92.200.9', 443);
  r.connect(at(92), UPLOADER, '52.218.100.1', 443);
  r.connect(at(92, 30), UPLOADER, '3.5.66.7', 443);
  r.dnsAnswer(at(90), FRONTEND, { name: CDN_NAME, cnames: CDN_CNAME, addresses: ['13.32.99.4', '13.33.140.8'], ttl: 60 });
  r.connect(at(90, 1), FRONTEND, '13.32.99.4', 443);
  r.connect(at(90, 2), FRONTEND, '13.33.140.8', 443);
  r.udpSend(at(90), WORKER, '10.96.0.10', 53);
  r.dnsAnswer(at(90), WORKER, { name: 'api.payments-provider.example', addresses: ['192.0.2.81'], ttl: 300 });
  r.connect(at(90, 1), WORKER, '192.0.2.81', 443);

  // ---- attacks
  r.connect(at(95), UPLOADER, '198.51.100.77', 443); // a new unknown external host
  r.dnsAnswer(at(96), FRONTEND, { name: 'paste.attacker.example', addresses: ['13.33.140.8'], ttl: 60 }); // same CDN address
  r.connect(at(96, 1), FRONTEND, '13.33.140.8', 443);
  for (let i = 0; i < 20; i++) r.udpSend(at(97, i), WORKER, '203.0.113.53', 53); // a resolver outside the cluster
  // The last event: a marker whose alert says every earlier event was decided.
  r.exec(at(100), UPLOADER, '/usr/bin/curl', '-s https://example.org/');
  return r.jsonl();
}

t.test('rotating S3 and CDN pools stay silent; an unknown host, a new name on a CDN address and an outside resolver alert once each', async (t) => {
  const pipeline = await startRecordingPipeline(
    t,
    recording(),
    // The only detection setting changed: a learning window that fits the recording.
    { learning: { window: '30m' } },
    ({ dataDir }) => {
      mkdirSync(join(dataDir, 'address-sets'), { recursive: true });
      writeAddressSetFiles(join(dataDir, 'address-sets'));
    },
  );
  const { deviationAlerts, deviationRows } = pipeline;
  t.match(pipeline.collector.stderr(), /address sets loaded/, 'the provider files in the default directory were read');
  pipeline.startAgent();

  await eventually(() => deviationAlerts().some((a) => a.deviations.some((d) => d.itemKey === 'p|/usr/bin/curl')), 'the marker alert', 120_000);
  await eventually(() => deviationAlerts().length >= deviationRows().length, 'an alert for every deviation', 60_000);

  const expected = [
    'frontend n|egress|tcp|443|dns|paste.attacker.example',
    'uploader n|egress|tcp|443|ip|198.51.100.77',
    'uploader p|/usr/bin/curl',
    'worker n|egress|udp|53|ip|203.0.113.53',
  ];
  const sent = deviationAlerts();
  t.same(sent.flatMap((a) => a.deviations.map((d) => `${a.workload?.name} ${d.itemKey}`)).sort(), expected, 'exactly these alerts: rotation inside learned names and sets is silent');
  t.same(deviationRows().map((r) => r.item_key).sort(), expected.map((e) => e.split(' ')[1]).sort(), 'and exactly these deviations');
  const exfil = sent.find((a) => a.workload?.name === 'frontend')!;
  t.match(exfil.summary, /paste\.attacker\.example \(13\.33\.140\.8\)/, 'the alert names the peer the workload resolved, with its address');
  const tunnel = sent.find((a) => a.workload?.name === 'worker')!.deviations[0]!;
  t.equal(tunnel.count, 20, 'twenty datagrams, one deviation');
  t.equal(tunnel.severity, 'medium');
  t.same(await pipeline.stop(), [0, 0], 'both exit cleanly');
});
