/**
 * The yardstick of the end-to-end benchmark, run as its own process: a bare grpc-js client of
 * Tetragon's GetEvents that decodes every message with protobufjs (`Type.decode`, plus
 * `toObject` in that mode) and does nothing else. The benchmark reads its CPU time from /proc
 * exactly as it reads the agent's, and asks it over IPC how many messages it decoded.
 *
 *   node dist/bench/e2e/bare-client.js unix:///path/tetragon.sock
 *   IPC in:  { mode: 'decode' | 'toObject' } | { count: true }
 *   IPC out: { ready: true } | { count: n }
 */
import * as grpc from '@grpc/grpc-js';
import { rawClient } from '../../agent/sources/grpc-stream.js';
import { sourceProtos, tetragonEventsRequest } from '../../agent/sources/protos.js';
import { TETRAGON_GET_EVENTS } from '../../agent/sources/tetragon-grpc.js';

const address = process.argv[2];
if (!address || !process.send) throw new Error('usage: fork bare-client.js <grpc address> (with an IPC channel)');

const type = sourceProtos().tetragonResponse;
const Client = rawClient('FineGuidanceSensors', { GetEvents: { path: TETRAGON_GET_EVENTS, requestStream: false } });
const client = new Client(address, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': 16 * 1024 * 1024 });
let mode: 'decode' | 'toObject' = 'decode';
let count = 0;
let sink = 0;

const call = (client as unknown as { GetEvents(req: Buffer): grpc.ClientReadableStream<Buffer> }).GetEvents(tetragonEventsRequest());
call.on('metadata', () => process.send!({ ready: true }));
call.on('data', (bytes: Buffer) => {
  const msg = type.decode(bytes);
  if (mode === 'toObject') {
    const obj = type.toObject(msg, { longs: String, enums: String });
    if (obj.node_name) sink++;
  } else if ((msg as unknown as { node_name?: string }).node_name) sink++;
  count++;
});
call.on('error', () => process.exit(sink < 0 ? 1 : 0));

process.on('message', (m: { mode?: 'decode' | 'toObject'; count?: boolean }) => {
  if (m.mode) mode = m.mode;
  if (m.count) process.send!({ count });
});
process.on('disconnect', () => {
  call.cancel();
  client.close();
  process.exit(0);
});
