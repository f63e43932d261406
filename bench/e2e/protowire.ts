/**
 * Just enough of the protobuf wire format to rebuild real Tetragon messages with new identities:
 * walk a message's fields, keep the ones we do not vary as raw bytes (capabilities, namespaces,
 * credentials… that driftwatch's subset schema does not declare but a real stream carries), and
 * wrap re-encoded parts with their tag. Field order does not matter to a decoder, so
 * `known fields ++ raw rest` is a valid message of the full upstream schema.
 */

interface Field {
  num: number;
  /** Offset of the tag (the whole field is bytes[start, end)). */
  start: number;
  end: number;
  /** For length-delimited fields: the value bytes. */
  value: Buffer | null;
}

function varint(buf: Buffer, off: number): [value: number, next: number] {
  let value = 0;
  let shift = 0;
  for (;;) {
    const b = buf[off++]!;
    value += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return [value, off];
    shift += 7;
  }
}

function fields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let off = 0;
  while (off < buf.length) {
    const start = off;
    const [tag, afterTag] = varint(buf, off);
    off = afterTag;
    const wireType = tag & 7;
    let value: Buffer | null = null;
    if (wireType === 0) off = varint(buf, off)[1];
    else if (wireType === 1) off += 8;
    else if (wireType === 5) off += 4;
    else if (wireType === 2) {
      const [len, at] = varint(buf, off);
      value = buf.subarray(at, at + len);
      off = at + len;
    } else throw new Error(`unsupported wire type ${wireType} at byte ${start}`);
    out.push({ num: Math.floor(tag / 8), start, end: off, value });
  }
  return out;
}

/** The value bytes of the first length-delimited field `num`. */
export function child(buf: Buffer, num: number): Buffer {
  const f = fields(buf).find((x) => x.num === num && x.value !== null);
  if (!f) throw new Error(`field ${num} not present`);
  return f.value!;
}

/** The raw bytes of every field whose number is not in `drop`. */
export function without(buf: Buffer, drop: readonly number[]): Buffer {
  return Buffer.concat(fields(buf).filter((f) => !drop.includes(f.num)).map((f) => buf.subarray(f.start, f.end)));
}

function encodeVarint(n: number): Buffer {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return Buffer.from(out);
}

/** A length-delimited field: tag (wire type 2), length, bytes. */
export function field(num: number, ...parts: Uint8Array[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([encodeVarint(num * 8 + 2), encodeVarint(body.length), body]);
}
