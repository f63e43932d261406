/**
 * A set (or map to numbers) of 64-bit hashes in flat typed arrays: open addressing, linear
 * probing, no object per entry. About 12 bytes per entry for a set and 24 for a map at the load
 * it keeps (under 0.7), against some 60–100 bytes for a string in a Set.
 *
 * Keys are (hi, lo) halves of a uniformly distributed hash (SipHash), so the low bits index the
 * table directly. (0, 0) marks an empty slot; a hash that happens to be (0, 0) is stored as (0, 1).
 */
export class HashTable64 {
  private keys: Uint32Array;
  private values: Float64Array | null;
  private mask: number;
  size = 0;

  constructor(
    private readonly withValues: boolean,
    expected = 0,
  ) {
    const capacity = capacityFor(expected);
    this.keys = new Uint32Array(capacity * 2);
    this.values = withValues ? new Float64Array(capacity) : null;
    this.mask = capacity - 1;
  }

  /** Bytes of the arrays (what the table holds in memory besides its small object). */
  get bytes(): number {
    return this.keys.byteLength + (this.values?.byteLength ?? 0);
  }

  has(hi: number, lo: number): boolean {
    return this.slotOf(hi, lo === 0 && hi === 0 ? 1 : lo) >= 0;
  }

  /** The value stored with the key (maps), or undefined when absent. */
  get(hi: number, lo: number): number | undefined {
    const slot = this.slotOf(hi, lo === 0 && hi === 0 ? 1 : lo);
    return slot >= 0 ? this.values![slot] : undefined;
  }

  /** Adds the key (with its value, for maps); returns true when it was not there. */
  set(hi: number, lo: number, value = 0): boolean {
    if (lo === 0 && hi === 0) lo = 1;
    const keys = this.keys;
    let i = lo & this.mask;
    for (;;) {
      const kh = keys[2 * i]!;
      const kl = keys[2 * i + 1]!;
      if (kh === 0 && kl === 0) break;
      if (kh === hi && kl === lo) {
        if (this.values) this.values[i] = value;
        return false;
      }
      i = (i + 1) & this.mask;
    }
    keys[2 * i] = hi;
    keys[2 * i + 1] = lo;
    if (this.values) this.values[i] = value;
    if (++this.size * 10 > (this.mask + 1) * 7) this.grow();
    return true;
  }

  clear(): void {
    this.size = 0;
    const capacity = capacityFor(0);
    this.keys = new Uint32Array(capacity * 2);
    this.values = this.withValues ? new Float64Array(capacity) : null;
    this.mask = capacity - 1;
  }

  private slotOf(hi: number, lo: number): number {
    const keys = this.keys;
    let i = lo & this.mask;
    for (;;) {
      const kh = keys[2 * i]!;
      const kl = keys[2 * i + 1]!;
      if (kh === hi && kl === lo) return i;
      if (kh === 0 && kl === 0) return -1;
      i = (i + 1) & this.mask;
    }
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldValues = this.values;
    const capacity = (this.mask + 1) * 2;
    this.keys = new Uint32Array(capacity * 2);
    this.values = oldValues ? new Float64Array(capacity) : null;
    this.mask = capacity - 1;
    this.size = 0;
    for (let i = 0; i < oldKeys.length / 2; i++) {
      const hi = oldKeys[2 * i]!;
      const lo = oldKeys[2 * i + 1]!;
      if (hi !== 0 || lo !== 0) this.set(hi, lo, oldValues ? oldValues[i]! : 0);
    }
  }
}

/** The smallest power of two that holds `n` entries under a 0.7 load (at least 8). */
function capacityFor(n: number): number {
  let c = 8;
  while (c * 7 < n * 10) c *= 2;
  return c;
}
