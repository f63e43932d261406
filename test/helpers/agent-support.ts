/** Shared by the agent source tests: fixtures, contexts, collecting sinks. */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { silentLogger } from '../../common/logger.js';
import type { Observation, SourceKind } from '../../common/model.js';
import { packagePath } from '../../common/paths.js';
import { IdentityResolver } from '../../agent/identity/resolver.js';
import { LineageCache } from '../../agent/lineage/cache.js';
import type { NormaliseContext, NormaliseResult } from '../../agent/normalise/context.js';
import type { ObservationSink } from '../../agent/pipeline.js';
import { splitLengthPrefixed } from '../../agent/sources/protos.js';
import type { SourceDeps } from '../../agent/sources/runtime.js';

export function fixture(...parts: string[]): string {
  return packagePath('..', 'shared', 'fixtures', ...parts);
}

export function fixtureFiles(dir: 'tetragon' | 'falco', ext: '.json' | '.bin'): string[] {
  return readdirSync(fixture(dir))
    .filter((f) => f.endsWith(ext))
    .sort();
}

export function jsonLines(path: string): unknown[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as unknown);
}

export function binRecords(path: string): Buffer[] {
  return splitLengthPrefixed(readFileSync(path));
}

export function newContext(source: SourceKind, opts: { node?: string; maxProcesses?: number } = {}): NormaliseContext {
  return {
    source,
    cluster: 'test',
    node: opts.node ?? 'test-node',
    lineage: new LineageCache({ maxProcesses: opts.maxProcesses ?? 10_000 }),
    identity: new IdentityResolver(null),
    now: () => 0,
  };
}

/** Observations with the encoding-specific `source` field unified, for JSON-vs-binary comparison. */
export function comparable(results: NormaliseResult[]): unknown[] {
  return results.map((r) => (typeof r === 'string' ? r : { ...r, source: 'any' }));
}

export class CollectingSink implements ObservationSink {
  readonly observations: Observation[] = [];
  /** When set, offer() refuses until release() is called. */
  private full = false;
  private waiters: (() => void)[] = [];
  refused = 0;

  offer(obs: Observation): boolean {
    if (this.full) {
      this.refused++;
      return false;
    }
    this.observations.push(obs);
    return true;
  }

  waitForCapacity(): Promise<void> {
    if (!this.full) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  block(): void {
    this.full = true;
  }

  release(): void {
    this.full = false;
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }

  async waitFor(n: number, timeoutMs = 10_000): Promise<Observation[]> {
    const until = Date.now() + timeoutMs;
    while (this.observations.length < n) {
      if (Date.now() > until) throw new Error(`timed out waiting for ${n} observations (have ${this.observations.length})`);
      await new Promise((r) => setTimeout(r, 10));
    }
    return this.observations;
  }
}

export function newDeps(sink: ObservationSink, opts: { node?: string } = {}): SourceDeps {
  return {
    node: opts.node ?? 'test-node',
    cluster: 'test',
    logger: silentLogger(),
    registry: new Registry(),
    sink,
    lineage: new LineageCache({ maxProcesses: 10_000 }),
    identity: new IdentityResolver(null),
  };
}

export async function until(cond: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * A short-lived directory for unix sockets: t.testdir() paths are longer than the 107 bytes a
 * socket path may have.
 */
export function socketDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'dw-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
