/**
 * SipHash (Aumasson & Bernstein), a keyed 64-bit hash, fed field by field so that a baseline item
 * is hashed from the parts an observation already holds, with nothing concatenated per event.
 *
 * Why keyed: the edge filter keeps baseline items as 64-bit hashes, not strings, and drops what
 * hashes to an allowed item. With a fast unkeyed hash an attacker could craft an executable path
 * or address that collides with an allowed one and is dropped unseen. SipHash with a key drawn at
 * random when the agent starts, never leaving the process, makes a collision a 2⁻⁶⁴ accident per
 * lookup and pair of items, not something an input can aim for. The filter uses SipHash-1-3 (the
 * variant Rust's and CPython's hash tables use against hash flooding); SipHash-2-4 is the same
 * code with more rounds, kept here because its reference vectors test the implementation.
 *
 * 64-bit words are pairs of unsigned 32-bit halves (hi, lo); input is absorbed byte by byte (a
 * string as its UTF-16 code units, two bytes each, so any string is unambiguous).
 */
import { randomBytes } from 'node:crypto';

export class SipHasher {
  // Key and state as 32-bit halves.
  private readonly k0h: number;
  private readonly k0l: number;
  private readonly k1h: number;
  private readonly k1l: number;
  private v0h = 0;
  private v0l = 0;
  private v1h = 0;
  private v1l = 0;
  private v2h = 0;
  private v2l = 0;
  private v3h = 0;
  private v3l = 0;
  /** The pending message word (up to 8 bytes, little-endian) and the total length. */
  private mh = 0;
  private ml = 0;
  private length = 0;
  /** The last result. */
  hi = 0;
  lo = 0;

  /** `key`: 16 bytes (default: random, per process). */
  constructor(
    key: Uint8Array = randomBytes(16),
    private readonly compressionRounds = 1,
    private readonly finalRounds = 3,
  ) {
    if (key.length !== 16) throw new Error('a SipHash key has 16 bytes');
    const word = (o: number): number => (key[o]! | (key[o + 1]! << 8) | (key[o + 2]! << 16) | (key[o + 3]! << 24)) >>> 0;
    this.k0l = word(0);
    this.k0h = word(4);
    this.k1l = word(8);
    this.k1h = word(12);
  }

  reset(): this {
    this.v0h = (this.k0h ^ 0x736f6d65) >>> 0;
    this.v0l = (this.k0l ^ 0x70736575) >>> 0;
    this.v1h = (this.k1h ^ 0x646f7261) >>> 0;
    this.v1l = (this.k1l ^ 0x6e646f6d) >>> 0;
    this.v2h = (this.k0h ^ 0x6c796765) >>> 0;
    this.v2l = (this.k0l ^ 0x6e657261) >>> 0;
    this.v3h = (this.k1h ^ 0x74656462) >>> 0;
    this.v3l = (this.k1l ^ 0x79746573) >>> 0;
    this.mh = 0;
    this.ml = 0;
    this.length = 0;
    return this;
  }

  byte(b: number): this {
    const at = this.length & 7;
    if (at < 4) this.ml = (this.ml | ((b & 0xff) << (at * 8))) >>> 0;
    else this.mh = (this.mh | ((b & 0xff) << ((at - 4) * 8))) >>> 0;
    this.length++;
    if (at === 7) this.absorb();
    return this;
  }

  /** A 16-bit value, little-endian. */
  u16(v: number): this {
    return this.byte(v).byte(v >>> 8);
  }

  string(s: string): this {
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      this.byte(c).byte(c >>> 8);
    }
    return this;
  }

  /** Finishes the message: the hash is in `hi` / `lo`. */
  finish(): this {
    // Last block: remaining bytes, and the length's low byte in the top byte.
    this.mh = (this.mh | ((this.length & 0xff) << 24)) >>> 0;
    this.absorb();
    this.v2l = (this.v2l ^ 0xff) >>> 0;
    for (let i = 0; i < this.finalRounds; i++) this.round();
    this.hi = (this.v0h ^ this.v1h ^ this.v2h ^ this.v3h) >>> 0;
    this.lo = (this.v0l ^ this.v1l ^ this.v2l ^ this.v3l) >>> 0;
    return this;
  }

  private absorb(): void {
    this.v3h = (this.v3h ^ this.mh) >>> 0;
    this.v3l = (this.v3l ^ this.ml) >>> 0;
    for (let i = 0; i < this.compressionRounds; i++) this.round();
    this.v0h = (this.v0h ^ this.mh) >>> 0;
    this.v0l = (this.v0l ^ this.ml) >>> 0;
    this.mh = 0;
    this.ml = 0;
  }

  /** One SipRound on (v0, v1, v2, v3). */
  private round(): void {
    let v0h = this.v0h, v0l = this.v0l, v1h = this.v1h, v1l = this.v1l;
    let v2h = this.v2h, v2l = this.v2l, v3h = this.v3h, v3l = this.v3l;
    let t: number;
    // v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32)
    t = (v0l + v1l) >>> 0;
    v0h = (v0h + v1h + (t < v0l ? 1 : 0)) >>> 0;
    v0l = t;
    t = ((v1h << 13) | (v1l >>> 19)) >>> 0;
    v1l = ((v1l << 13) | (v1h >>> 19)) >>> 0;
    v1h = t;
    v1h = (v1h ^ v0h) >>> 0;
    v1l = (v1l ^ v0l) >>> 0;
    t = v0h;
    v0h = v0l;
    v0l = t;
    // v2 += v3; v3 = rotl(v3, 16); v3 ^= v2
    t = (v2l + v3l) >>> 0;
    v2h = (v2h + v3h + (t < v2l ? 1 : 0)) >>> 0;
    v2l = t;
    t = ((v3h << 16) | (v3l >>> 16)) >>> 0;
    v3l = ((v3l << 16) | (v3h >>> 16)) >>> 0;
    v3h = t;
    v3h = (v3h ^ v2h) >>> 0;
    v3l = (v3l ^ v2l) >>> 0;
    // v0 += v3; v3 = rotl(v3, 21); v3 ^= v0
    t = (v0l + v3l) >>> 0;
    v0h = (v0h + v3h + (t < v0l ? 1 : 0)) >>> 0;
    v0l = t;
    t = ((v3h << 21) | (v3l >>> 11)) >>> 0;
    v3l = ((v3l << 21) | (v3h >>> 11)) >>> 0;
    v3h = t;
    v3h = (v3h ^ v0h) >>> 0;
    v3l = (v3l ^ v0l) >>> 0;
    // v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32)
    t = (v2l + v1l) >>> 0;
    v2h = (v2h + v1h + (t < v2l ? 1 : 0)) >>> 0;
    v2l = t;
    t = ((v1h << 17) | (v1l >>> 15)) >>> 0;
    v1l = ((v1l << 17) | (v1h >>> 15)) >>> 0;
    v1h = t;
    v1h = (v1h ^ v2h) >>> 0;
    v1l = (v1l ^ v2l) >>> 0;
    t = v2h;
    v2h = v2l;
    v2l = t;
    this.v0h = v0h;
    this.v0l = v0l;
    this.v1h = v1h;
    this.v1l = v1l;
    this.v2h = v2h;
    this.v2l = v2l;
    this.v3h = v3h;
    this.v3l = v3l;
  }
}
