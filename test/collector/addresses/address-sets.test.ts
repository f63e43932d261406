import t from 'tap';
import { gzipSync } from 'node:zlib';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AddressSets, loadAddressSetsDir, parseAddressSetDocument } from '../../../collector/addresses/address-sets.js';
import { AWS_IP_RANGES, AZURE_SERVICE_TAGS, GCP_CLOUD, writeAddressSetFiles } from '../../helpers/address-set-files.js';

t.test('the three provider formats and user sets load, each recognised by its keys', (t) => {
  const dir = t.testdir();
  writeAddressSetFiles(dir);
  const loaded = loadAddressSetsDir(dir);
  t.same(loaded.errors, []);
  t.same(
    loaded.files.map((f) => [f.path.slice(dir.length + 1), f.format]),
    [
      ['aws-ip-ranges.json', 'aws'],
      ['azure-service-tags.json', 'azure'],
      ['gcp-cloud.json', 'gcp'],
      ['sets.yaml', 'sets'],
    ],
  );
  const s = loaded.sets;
  t.equal(s.setOf('52.218.12.34'), 'aws:S3:eu-west-1', 'S3 wins over the catch-all AMAZON on the same prefix');
  t.equal(s.setOf('3.5.66.1'), 'aws:S3:eu-west-1');
  t.equal(s.setOf('52.17.1.1'), 'aws:AMAZON:eu-west-1', 'only AMAZON publishes it');
  t.equal(s.setOf('2a05:d07a:a0ff::1'), 'aws:S3:eu-west-1', 'IPv6');
  t.equal(s.setOf('13.33.1.1'), 'aws:CLOUDFRONT:GLOBAL');
  t.equal(s.setOf('34.140.9.9'), 'gcp:europe-west1');
  t.equal(s.setOf('2600:1900:4010::5'), 'gcp:europe-west1');
  t.equal(s.setOf('20.60.1.2'), 'azure:Storage.WestEurope', 'a regional service tag beats AzureCloud on the same prefix');
  t.equal(s.setOf('20.1.1.1'), 'azure:AzureCloud', 'longest prefix: only the broad tag covers it');
  t.equal(s.setOf('198.18.7.9'), 'payments-partner', 'user-defined');
  t.equal(s.setOf('198.51.100.7'), null, 'outside every set');
  t.end();
});

t.test('CIDRs a set can be filtered by at the edge: only when no other set is nested inside', (t) => {
  const dir = t.testdir();
  writeAddressSetFiles(dir);
  const s = loadAddressSetsDir(dir).sets;
  t.same(s.exactCidrsOf('aws:S3:eu-west-1'), ['2a05:d07a:a000::/40', '3.5.64.0/21', '52.218.0.0/17', '52.92.0.0/17']);
  t.equal(s.exactCidrsOf('aws:AMAZON:eu-west-1'), null, 'AMAZON lost its prefixes to S3 and EC2');
  t.equal(s.exactCidrsOf('azure:AzureCloud'), null, 'Storage.WestEurope sits inside 20.0.0.0/11');
  t.same(s.cidrsOf('azure:AzureCloud'), ['20.0.0.0/11', '20.60.0.0/16']);
  t.end();
});

t.test('bad files are reported with their path and left out; the rest loads; gzip is read', (t) => {
  const dir = t.testdir();
  writeFileSync(join(dir, 'aws.json.gz'), gzipSync(JSON.stringify(AWS_IP_RANGES)));
  writeFileSync(join(dir, 'broken.json'), '{"prefixes": [');
  writeFileSync(join(dir, 'other.json'), '{"hello": 1}');
  writeFileSync(join(dir, 'badcidr.yaml'), 'sets:\n  x: ["10.0.0.0/33"]\n');
  const loaded = loadAddressSetsDir(dir);
  t.equal(loaded.files.length, 1);
  t.equal(loaded.errors.length, 3);
  t.match(loaded.errors.join('\n'), /badcidr\.yaml: sets\.x\[0\]: not a CIDR: "10\.0\.0\.0\/33"/);
  t.match(loaded.errors.join('\n'), /broken\.json: not valid JSON/);
  t.match(loaded.errors.join('\n'), /other\.json: unknown format/);
  t.equal(loaded.sets.setOf('52.218.1.1'), 'aws:S3:eu-west-1');
  t.same(loadAddressSetsDir(join(dir, 'missing')).files, [], 'a missing directory is no sets');
  t.end();
});

t.test('documents parse in memory too; a set name that cannot be a key is refused', (t) => {
  t.equal(parseAddressSetDocument(GCP_CLOUD, 'g').format, 'gcp');
  t.equal(parseAddressSetDocument(AZURE_SERVICE_TAGS, 'a').format, 'azure');
  t.throws(() => parseAddressSetDocument({ sets: { 'a|b': ['10.0.0.0/8'] } }, 'u'), /unusable set name/);
  t.equal(new AddressSets().setOf('10.0.0.1'), null);
  t.end();
});
