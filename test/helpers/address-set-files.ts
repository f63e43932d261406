/**
 * Small provider range files in the official formats (the shapes AWS, Google and Azure publish,
 * cut to a few entries), for tests that must not reach the internet. The addresses are real
 * ranges of those services so that the examples read true, but nothing depends on that.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** AWS `ip-ranges.json`: S3 eu-west-1 prefixes listed twice (as S3 and under the catch-all AMAZON). */
export const AWS_IP_RANGES = {
  syncToken: '1764900000',
  createDate: '2026-12-01-12-00-00',
  prefixes: [
    { ip_prefix: '52.218.0.0/17', region: 'eu-west-1', service: 'AMAZON', network_border_group: 'eu-west-1' },
    { ip_prefix: '52.218.0.0/17', region: 'eu-west-1', service: 'S3', network_border_group: 'eu-west-1' },
    { ip_prefix: '3.5.64.0/21', region: 'eu-west-1', service: 'AMAZON', network_border_group: 'eu-west-1' },
    { ip_prefix: '3.5.64.0/21', region: 'eu-west-1', service: 'S3', network_border_group: 'eu-west-1' },
    { ip_prefix: '52.92.0.0/17', region: 'eu-west-1', service: 'S3', network_border_group: 'eu-west-1' },
    { ip_prefix: '54.72.0.0/15', region: 'eu-west-1', service: 'EC2', network_border_group: 'eu-west-1' },
    { ip_prefix: '54.72.0.0/15', region: 'eu-west-1', service: 'AMAZON', network_border_group: 'eu-west-1' },
    { ip_prefix: '52.16.0.0/15', region: 'eu-west-1', service: 'AMAZON', network_border_group: 'eu-west-1' },
    { ip_prefix: '13.32.0.0/15', region: 'GLOBAL', service: 'CLOUDFRONT', network_border_group: 'GLOBAL' },
    { ip_prefix: '13.32.0.0/15', region: 'GLOBAL', service: 'AMAZON', network_border_group: 'GLOBAL' },
  ],
  ipv6_prefixes: [
    { ipv6_prefix: '2a05:d07a:a000::/40', region: 'eu-west-1', service: 'S3', network_border_group: 'eu-west-1' },
    { ipv6_prefix: '2a05:d07a:a000::/40', region: 'eu-west-1', service: 'AMAZON', network_border_group: 'eu-west-1' },
  ],
};

/** Google `cloud.json`. */
export const GCP_CLOUD = {
  syncToken: '1764900000000',
  creationTime: '2026-12-01T12:00:00.000000',
  prefixes: [
    { ipv4Prefix: '34.140.0.0/16', service: 'Google Cloud', scope: 'europe-west1' },
    { ipv6Prefix: '2600:1900:4010::/44', service: 'Google Cloud', scope: 'europe-west1' },
  ],
};

/** Azure Service Tags (`ServiceTags_Public_*.json`): a regional storage tag inside the broad AzureCloud tag. */
export const AZURE_SERVICE_TAGS = {
  changeNumber: 321,
  cloud: 'Public',
  values: [
    {
      name: 'AzureCloud',
      id: 'AzureCloud',
      properties: { changeNumber: 100, region: '', regionId: 0, platform: 'Azure', systemService: '', addressPrefixes: ['20.0.0.0/11', '20.60.0.0/16'], networkFeatures: ['API', 'NSG'] },
    },
    {
      name: 'Storage.WestEurope',
      id: 'Storage.WestEurope',
      properties: { changeNumber: 55, region: 'westeurope', regionId: 18, platform: 'Azure', systemService: 'AzureStorage', addressPrefixes: ['20.60.0.0/16', '20.38.108.0/23'], networkFeatures: ['API', 'NSG'] },
    },
  ],
};

/** A user-defined set file. */
export const USER_SETS = { sets: { 'payments-partner': ['198.18.7.0/24'] } };

/** Writes the four files into `dir` (the collector's `<dataDir>/address-sets` by default). */
export function writeAddressSetFiles(dir: string): void {
  writeFileSync(join(dir, 'aws-ip-ranges.json'), JSON.stringify(AWS_IP_RANGES));
  writeFileSync(join(dir, 'gcp-cloud.json'), JSON.stringify(GCP_CLOUD));
  writeFileSync(join(dir, 'azure-service-tags.json'), JSON.stringify(AZURE_SERVICE_TAGS));
  writeFileSync(join(dir, 'sets.yaml'), `sets:\n  payments-partner:\n    - 198.18.7.0/24\n`);
}
