/**
 * The Tetragon and Falco wire schemas (proto/tetragon, proto/falco: minimal subsets with the
 * upstream names and numbers), loaded once with protobufjs (keepCase: the snake_case names
 * protojson uses, so one normaliser reads both encodings). Decoding is `Type.decode` only — no
 * toObject on the hot path: the normalisers read the decoded message objects directly.
 */
import protobuf from 'protobufjs';
import { join } from 'node:path';
import { PROTO_DIR } from '../../common/paths.js';

export interface SourceProtos {
  tetragonRequest: protobuf.Type;
  tetragonResponse: protobuf.Type;
  falcoRequest: protobuf.Type;
  falcoResponse: protobuf.Type;
}

let loaded: SourceProtos | undefined;

export function sourceProtos(): SourceProtos {
  if (loaded) return loaded;
  const root = new protobuf.Root();
  // google/protobuf/{timestamp,wrappers}.proto are bundled with protobufjs.
  root.loadSync([join(PROTO_DIR, 'tetragon', 'tetragon.proto'), join(PROTO_DIR, 'falco', 'outputs.proto')], { keepCase: true });
  root.resolveAll();
  loaded = {
    tetragonRequest: root.lookupType('tetragon.GetEventsRequest'),
    tetragonResponse: root.lookupType('tetragon.GetEventsResponse'),
    falcoRequest: root.lookupType('falco.outputs.request'),
    falcoResponse: root.lookupType('falco.outputs.response'),
  };
  return loaded;
}

/**
 * GetEventsRequest asking only for what driftwatch uses: exec, exit and kprobe events, and the
 * throttle events that say a cgroup's events are being held back (Tetragon filters the stream by
 * this event set, so without it the throttling would go unseen).
 */
export function tetragonEventsRequest(): Buffer {
  const { tetragonRequest } = sourceProtos();
  const msg = tetragonRequest.fromObject({ allow_list: [{ event_set: ['PROCESS_EXEC', 'PROCESS_EXIT', 'PROCESS_KPROBE', 'PROCESS_THROTTLE'] }] });
  return Buffer.from(tetragonRequest.encode(msg).finish());
}

/** Splits the fixtures' framing (4-byte big-endian length + message, repeated). */
export function splitLengthPrefixed(data: Uint8Array): Buffer[] {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const out: Buffer[] = [];
  let off = 0;
  while (off + 4 <= buf.length) {
    const n = buf.readUInt32BE(off);
    if (off + 4 + n > buf.length) throw new Error(`truncated record at byte ${off}: ${n} bytes announced, ${buf.length - off - 4} left`);
    out.push(buf.subarray(off + 4, off + 4 + n));
    off += 4 + n;
  }
  if (off !== buf.length) throw new Error(`trailing ${buf.length - off} bytes`);
  return out;
}
