/** The real sources fed from protocol-faithful fakes or files, for the fault tests. */
import type { Test } from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FalcoGrpcSource } from '../../agent/sources/falco-grpc.js';
import { FileSource } from '../../agent/sources/file.js';
import { TetragonGrpcSource } from '../../agent/sources/tetragon-grpc.js';
import type { Source } from '../../agent/pipeline.js';
import { CollectingSink, newDeps, socketDir, until } from '../helpers/agent-support.js';
import { FakeFalcoGrpc } from '../helpers/fake-falco-grpc.js';
import { FakeTetragon } from '../helpers/fake-tetragon.js';

export interface Fed {
  source: Source;
  sink: CollectingSink;
}

/** `messages` written by a fake Tetragon (or Falco ≤ 0.43) on a unix socket, read until all are seen. */
export async function throughGrpc(t: Test, sensor: 'tetragon' | 'falco', messages: Buffer[]): Promise<Fed> {
  const address = `unix://${join(socketDir(t), `${sensor}.sock`)}`;
  const server = sensor === 'tetragon' ? new FakeTetragon({ address, messages }) : new FakeFalcoGrpc({ address, messages });
  await server.start();
  t.teardown(() => server.stop());
  const sink = new CollectingSink();
  const source = sensor === 'tetragon' ? new TetragonGrpcSource({ kind: 'tetragon-grpc', address }, newDeps(sink)) : new FalcoGrpcSource({ kind: 'falco-grpc', address }, newDeps(sink));
  t.teardown(() => source.close());
  await source.start();
  await until(() => source.counters.seen === messages.length, 10_000, 'every message');
  return { source, sink };
}

/** `lines` replayed from a file by the tetragon-json / falco-json source, to the end. */
export async function throughFile(t: Test, kind: 'tetragon-json' | 'falco-json', lines: string[]): Promise<Fed> {
  const path = join(t.testdir(), 'events.jsonl');
  writeFileSync(path, lines.join('\n') + '\n');
  const sink = new CollectingSink();
  const source = new FileSource({ kind, address: path }, newDeps(sink));
  await source.start();
  await source.done;
  await source.close();
  return { source, sink };
}
