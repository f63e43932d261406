/**
 * Named address sets: the ranges cloud providers publish for their services (AWS `ip-ranges.json`,
 * Google `cloud.json`, Azure Service Tags JSON), and sets people define (`name → CIDRs`).
 *
 * An external peer inside a set is learned as the set (`aws:S3:eu-west-1`), so an object store or
 * a SaaS API answering from a rotating pool stays one item while its addresses change, and an
 * address outside every learned set is still new.
 *
 * Lookup is longest-prefix match: one Map per prefix length, longest first. Providers publish
 * overlapping entries (AWS lists every S3 prefix again under the catch-all `AMAZON`; Azure's
 * `AzureCloud` covers every regional tag): for the same prefix the more specific entry wins, so an
 * address is named after the service that answers from it.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parse as parseYaml } from 'yaml';
import { parseCidr, parseIpv4, parseIpv6, type Cidr } from '../../common/cidr.js';
import type { AddressSetLookup } from '../../common/items/derive.js';

/** One published or defined range with the set it belongs to and how specific that set is. */
export interface AddressSetEntry {
  cidr: string;
  set: string;
  /** Higher wins when two sets publish the same prefix (a service over a provider's catch-all). */
  specificity: number;
}

export interface AddressSetFile {
  format: 'aws' | 'gcp' | 'azure' | 'sets';
  entries: AddressSetEntry[];
}

/** Set names become item keys: no `|`, no spaces, nothing a key or a label cannot hold. */
const SET_NAME = /^[A-Za-z0-9][A-Za-z0-9._:/+-]{0,199}$/;

export class AddressSetError extends Error {}

/** The format of a parsed document, by the keys its publisher uses. */
export function parseAddressSetDocument(doc: unknown, file: string): AddressSetFile {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new AddressSetError(`${file}: not an address set document (expected an object)`);
  const d = doc as Record<string, unknown>;
  if (Array.isArray(d.prefixes) && ('syncToken' in d || 'ipv6_prefixes' in d) && d.prefixes.some((p) => isObject(p) && 'ip_prefix' in p)) return { format: 'aws', entries: awsEntries(d, file) };
  if (Array.isArray(d.prefixes) && d.prefixes.every((p) => isObject(p) && ('ipv4Prefix' in p || 'ipv6Prefix' in p))) return { format: 'gcp', entries: gcpEntries(d, file) };
  if (Array.isArray(d.values) && 'changeNumber' in d) return { format: 'azure', entries: azureEntries(d, file) };
  if (isObject(d.sets)) return { format: 'sets', entries: userEntries(d.sets, file) };
  throw new AddressSetError(`${file}: unknown format (expected AWS ip-ranges.json, Google cloud.json, Azure Service Tags JSON, or "sets: {name: [cidrs]}")`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function entry(file: string, where: string, cidr: unknown, set: string, specificity: number): AddressSetEntry {
  const parsed = typeof cidr === 'string' ? parseCidr(cidr) : null;
  if (!parsed) throw new AddressSetError(`${file}: ${where}: not a CIDR: ${JSON.stringify(cidr)}`);
  if (!SET_NAME.test(set)) throw new AddressSetError(`${file}: ${where}: unusable set name ${JSON.stringify(set)}`);
  return { cidr: parsed.text, set, specificity };
}

/** AWS: `aws:<service>:<region>`; the catch-all service AMAZON loses to any other on the same prefix. */
function awsEntries(d: Record<string, unknown>, file: string): AddressSetEntry[] {
  const out: AddressSetEntry[] = [];
  const add = (list: unknown, field: string, name: string): void => {
    if (list === undefined) return;
    if (!Array.isArray(list)) throw new AddressSetError(`${file}: ${name} is not a list`);
    list.forEach((p: unknown, i) => {
      if (!isObject(p)) throw new AddressSetError(`${file}: ${name}[${i}] is not an object`);
      const service = str(p.service);
      out.push(entry(file, `${name}[${i}]`, p[field], `aws:${service}:${str(p.region)}`, service === 'AMAZON' ? 0 : 1));
    });
  };
  add(d.prefixes, 'ip_prefix', 'prefixes');
  add(d.ipv6_prefixes, 'ipv6_prefix', 'ipv6_prefixes');
  return out;
}

/** Google Cloud: `gcp:<scope>` (the region; every entry's service is "Google Cloud"). */
function gcpEntries(d: Record<string, unknown>, file: string): AddressSetEntry[] {
  return (d.prefixes as Record<string, unknown>[]).map((p, i) => entry(file, `prefixes[${i}]`, p.ipv4Prefix ?? p.ipv6Prefix, `gcp:${str(p.scope) || 'global'}`, 1));
}

/** Azure: `azure:<service tag>`; a tag with a service and a region beats the broad ones (AzureCloud). */
function azureEntries(d: Record<string, unknown>, file: string): AddressSetEntry[] {
  const out: AddressSetEntry[] = [];
  (d.values as unknown[]).forEach((v, i) => {
    if (!isObject(v) || !isObject(v.properties)) throw new AddressSetError(`${file}: values[${i}] has no properties`);
    const props = v.properties;
    const prefixes = props.addressPrefixes;
    if (!Array.isArray(prefixes)) throw new AddressSetError(`${file}: values[${i}].properties.addressPrefixes is not a list`);
    const specificity = (str(props.systemService) ? 1 : 0) + (str(props.region) ? 1 : 0);
    prefixes.forEach((c: unknown, j) => out.push(entry(file, `values[${i}].properties.addressPrefixes[${j}]`, c, `azure:${str(v.name)}`, specificity)));
  });
  return out;
}

/** Defined by people: they know best, so their sets beat every provider's on the same prefix. */
function userEntries(sets: Record<string, unknown>, file: string): AddressSetEntry[] {
  const out: AddressSetEntry[] = [];
  for (const [name, cidrs] of Object.entries(sets)) {
    if (!Array.isArray(cidrs)) throw new AddressSetError(`${file}: sets.${name} is not a list of CIDRs`);
    cidrs.forEach((c: unknown, i) => out.push(entry(file, `sets.${name}[${i}]`, c, name, 10)));
  }
  return out;
}

interface Slot {
  set: string;
  specificity: number;
}

/** Longest-prefix lookup over every loaded set. */
export class AddressSets implements AddressSetLookup {
  private readonly v4 = new Map<number, Map<number, Slot>>();
  private readonly v6 = new Map<number, Map<bigint, Slot>>();
  private v4Lengths: number[] = [];
  private v6Lengths: number[] = [];
  private readonly cidrsBySet = new Map<string, string[]>();
  /** Sets with a more specific set nested inside one of their ranges: their CIDRs over-approximate. */
  private readonly nested = new Set<string>();

  constructor(entries: readonly AddressSetEntry[] = []) {
    for (const e of entries) this.add(e);
    this.v4Lengths = [...this.v4.keys()].sort((a, b) => b - a);
    this.v6Lengths = [...this.v6.keys()].sort((a, b) => b - a);
    for (const [set, cidrs] of this.cidrsBySet) this.cidrsBySet.set(set, [...new Set(cidrs)].sort());
    this.findNested();
  }

  get size(): number {
    return this.cidrsBySet.size;
  }

  setOf(ip: string): string | null {
    const v4 = parseIpv4(ip);
    if (v4 !== null) {
      for (const len of this.v4Lengths) {
        const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
        const hit = this.v4.get(len)!.get((v4 & mask) >>> 0);
        if (hit) return hit.set;
      }
      return null;
    }
    const v6 = parseIpv6(ip);
    if (v6 === null) return null;
    for (const len of this.v6Lengths) {
      const hit = this.v6.get(len)!.get(v6 & v6Mask(len));
      if (hit) return hit.set;
    }
    return null;
  }

  /**
   * The ranges an address must lie in to be named after this set, or null when those cannot be
   * written as CIDRs alone (a more specific set sits inside one of them: its addresses are not
   * this set's). The agent's edge filter drops by CIDR, so it only gets the exact cases.
   */
  exactCidrsOf(set: string): readonly string[] | null {
    if (this.nested.has(set)) return null;
    return this.cidrsBySet.get(set) ?? [];
  }

  /** Every range published for the set (policies that allow the set as a whole). */
  cidrsOf(set: string): readonly string[] {
    return this.cidrsBySet.get(set) ?? [];
  }

  private add(e: AddressSetEntry): void {
    const c = parseCidr(e.cidr)!;
    const len = prefixLength(c);
    const slot: Slot = { set: e.set, specificity: e.specificity };
    if (c.v === 4) {
      let byBase = this.v4.get(len);
      if (!byBase) this.v4.set(len, (byBase = new Map()));
      if (better(slot, byBase.get(c.base))) byBase.set(c.base, slot);
    } else {
      let byBase = this.v6.get(len);
      if (!byBase) this.v6.set(len, (byBase = new Map()));
      if (better(slot, byBase.get(c.base))) byBase.set(c.base, slot);
    }
    let list = this.cidrsBySet.get(e.set);
    if (!list) this.cidrsBySet.set(e.set, (list = []));
    list.push(c.text);
  }

  /** A set whose range contains a longer prefix won by another set (or loses its own prefix to one). */
  private findNested(): void {
    for (const [set, cidrs] of this.cidrsBySet) {
      for (const text of cidrs) {
        const c = parseCidr(text)!;
        const owner = c.v === 4 ? this.v4.get(prefixLength(c))?.get(c.base) : this.v6.get(prefixLength(c))?.get(c.base);
        if (owner?.set !== set) this.nested.add(set);
      }
    }
    const mark = <K>(tables: Map<number, Map<K, Slot>>, lengths: number[], parentOf: (base: K, len: number) => K): void => {
      for (const len of lengths) {
        for (const [base, slot] of tables.get(len)!) {
          for (const shorter of lengths) {
            if (shorter >= len) continue;
            const parent = tables.get(shorter)!.get(parentOf(base, shorter));
            if (parent && parent.set !== slot.set) this.nested.add(parent.set);
          }
        }
      }
    };
    mark(this.v4, this.v4Lengths, (base, len) => (len === 0 ? 0 : (base & ((0xffffffff << (32 - len)) >>> 0)) >>> 0));
    mark(this.v6, this.v6Lengths, (base, len) => base & v6Mask(len));
  }
}

function better(candidate: Slot, current: Slot | undefined): boolean {
  if (!current) return true;
  if (candidate.specificity !== current.specificity) return candidate.specificity > current.specificity;
  return candidate.set < current.set; // deterministic whatever the file order
}

function prefixLength(c: Cidr): number {
  return Number(c.text.slice(c.text.indexOf('/') + 1));
}

const V6_ALL = (1n << 128n) - 1n;
function v6Mask(len: number): bigint {
  return len === 0 ? 0n : (V6_ALL << BigInt(128 - len)) & V6_ALL;
}

/** Reads one file: JSON or YAML, optionally gzip-compressed (`.gz`). */
export function readAddressSetFile(path: string): AddressSetFile {
  let text: string;
  try {
    const raw = readFileSync(path);
    text = (path.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8');
  } catch (err) {
    throw new AddressSetError(`${path}: cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let doc: unknown;
  try {
    doc = /\.ya?ml(\.gz)?$/.test(path) ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw new AddressSetError(`${path}: not valid ${/\.ya?ml/.test(path) ? 'YAML' : 'JSON'}: ${(err as Error).message.split('\n')[0]}`);
  }
  return parseAddressSetDocument(doc, path);
}

export interface LoadedAddressSets {
  sets: AddressSets;
  files: { path: string; format: AddressSetFile['format']; entries: number }[];
  errors: string[];
}

/**
 * Every `*.json`, `*.yaml`, `*.yml` (optionally `.gz`) file of a directory, in name order. A file
 * that cannot be read or parsed is reported and left out; the others still load. A missing
 * directory is no sets at all (the default: nothing was downloaded yet).
 */
export function loadAddressSetsDir(dir: string): LoadedAddressSets {
  let names: string[] = [];
  try {
    names = readdirSync(dir)
      .filter((n) => /\.(json|ya?ml)(\.gz)?$/.test(n) && !n.startsWith('.'))
      .sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return { sets: new AddressSets(), files: [], errors: [`${dir}: cannot read directory: ${(err as NodeJS.ErrnoException).code ?? String(err)}`] };
  }
  const entries: AddressSetEntry[] = [];
  const files: LoadedAddressSets['files'] = [];
  const errors: string[] = [];
  for (const name of names) {
    const path = join(dir, name);
    try {
      const f = readAddressSetFile(path);
      entries.push(...f.entries);
      files.push({ path, format: f.format, entries: f.entries.length });
    } catch (err) {
      errors.push(err instanceof AddressSetError ? err.message : `${path}: ${String(err)}`);
    }
  }
  return { sets: new AddressSets(entries), files, errors };
}
