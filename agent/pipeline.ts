/**
 * The agent's pipeline contract: sources → (lineage, identity, normalise) → ObservationSink.
 * The sink is the edge filter + shipper (agent/main.ts wires it). Sources never know what is
 * downstream; they only honour back-pressure.
 */
import type { Observation, SourceCounters, SourceKind } from '../common/model.js';
import type { Component } from '../common/lifecycle.js';

export interface ObservationSink {
  /**
   * Hands one observation downstream. Returns false when the downstream queue is full: a source
   * that can pause (gRPC stream, file) pauses until `waitForCapacity()` resolves; one that cannot
   * (Falco HTTP posts) counts the observation as dropped.
   */
  offer(obs: Observation): boolean;
  waitForCapacity(): Promise<void>;
}

export interface Source extends Component {
  readonly kind: SourceKind;
  /** Unique per agent (config `name`, default the kind): label in metrics and counters. */
  readonly name: string;
  /** Live counters (the same object over time; read, never reset). */
  readonly counters: SourceCounters;
  /** Connected to its peer (gRPC), listening (HTTP), or reading (file). */
  readonly connected: boolean;
  /** Event time (ms) of the last event seen; 0 if none yet. */
  readonly lastEventMs: number;
}
