/**
 * The edge filter's compact item store: SipHash against the reference vectors of its authors
 * (SipHash-2-4, key 00…0f, messages 00…n-1; SipHash-1-3 is the same code with fewer rounds), and
 * the flat 64-bit hash table it keeps items and dedup times in.
 */
import t from 'tap';
import { HashTable64 } from '../../../agent/filter/hash-table.js';
import { SipHasher } from '../../../agent/filter/siphash.js';

t.test('SipHash-2-4 reference vectors', async (t) => {
  const key = Uint8Array.from({ length: 16 }, (_, i) => i);
  const h = new SipHasher(key, 2, 4);
  const vectors: Record<number, string> = { 0: '726fdb47dd0e0e31', 1: '74f839c593dc67fd', 7: 'ab0200f58b01d137', 8: '93f5f5799a932462', 15: 'a129ca6149be45e5' };
  for (const [n, want] of Object.entries(vectors)) {
    h.reset();
    for (let i = 0; i < Number(n); i++) h.byte(i);
    h.finish();
    t.equal(h.hi.toString(16).padStart(8, '0') + h.lo.toString(16).padStart(8, '0'), want, `${n} bytes`);
  }
});

t.test('keyed: the same input hashes alike under one key, differently under another', async (t) => {
  const a = new SipHasher();
  const b = new SipHasher();
  const one = (h: SipHasher) => {
    h.reset().string('/usr/bin/curl').finish();
    return [h.hi, h.lo];
  };
  t.same(one(a), one(a));
  t.not(one(a).join(), one(b).join(), 'random keys per instance');
  a.reset().string('ab').finish();
  const ab = [a.hi, a.lo].join();
  a.reset().string('a').string('b').finish();
  t.equal([a.hi, a.lo].join(), ab, 'fed in parts = fed at once');
});

t.test('HashTable64: set, has, get, growth, clear, and the (0, 0) key', async (t) => {
  const set = new HashTable64(false);
  const map = new HashTable64(true);
  const h = new SipHasher();
  let added = 0;
  for (let i = 0; i < 10_000; i++) {
    h.reset().string(`item-${i}`).finish();
    if (set.set(h.hi, h.lo)) added++;
    map.set(h.hi, h.lo, i);
  }
  t.equal(added, 10_000);
  t.equal(set.size, 10_000);
  t.notOk(set.set(h.hi, h.lo), 'adding again reports it was there');
  let found = 0;
  for (let i = 0; i < 10_000; i++) {
    h.reset().string(`item-${i}`).finish();
    if (set.has(h.hi, h.lo) && map.get(h.hi, h.lo) === i) found++;
  }
  t.equal(found, 10_000, 'every key found with its value after the table grew');
  h.reset().string('absent').finish();
  t.notOk(set.has(h.hi, h.lo));
  t.equal(map.get(h.hi, h.lo), undefined);
  t.ok(set.bytes < 10_000 * 16, `compact: ${set.bytes} bytes for 10,000 keys`);
  t.notOk(set.has(0, 0));
  set.set(0, 0);
  t.ok(set.has(0, 0), 'the empty-slot marker is still a storable key');
  set.clear();
  t.equal(set.size, 0);
  t.notOk(set.has(0, 0));
});
