/**
 * Which agents the agents table shows connected, kept true across a store outage: what the table
 * could not be told while the store refused writes (the reset at start, disconnects) is recorded
 * before the next agent is accepted, so a gone agent never stays "connected" and its
 * agent-disconnected health alert is not silenced by a full disk.
 */
import type { Logger } from '../../common/logger.js';
import type { CollectorBus } from '../events.js';
import { StorageUnavailableError, type AgentRepository } from '../store/contract.js';

/** Disconnects the store could not record: kept until it can, up to this many instances. */
const MAX_UNRECORDED_DISCONNECTS = 10_000;

export interface AgentPresenceOptions {
  agents: AgentRepository;
  bus: CollectorBus;
  logger: Logger;
  /** Whether an instance has an open stream (it reconnected meanwhile). */
  isConnected: (instanceId: string) => boolean;
}

export class AgentPresence {
  /** Every row may still be marked connected: the reset at start could not be written. */
  private resetPending = false;
  private readonly unrecorded = new Set<string>();
  private catchingUp: Promise<void> | undefined;

  constructor(private readonly o: AgentPresenceOptions) {}

  /** At start no agent is connected yet. A full disk does not stop the start (it is caught up). */
  async reset(): Promise<void> {
    try {
      await this.o.agents.markAllDisconnected();
    } catch (err) {
      if (!(err instanceof StorageUnavailableError)) throw err;
      this.resetPending = true;
    }
  }

  async disconnected(instanceId: string): Promise<void> {
    try {
      await this.o.agents.disconnected(instanceId, new Date().toISOString());
      const agent = await this.o.agents.get(instanceId);
      if (agent) this.o.bus.emit({ type: 'agent.disconnected', agent });
    } catch (err) {
      if (err instanceof StorageUnavailableError && this.unrecorded.size < MAX_UNRECORDED_DISCONNECTS) {
        this.unrecorded.add(instanceId);
        this.o.logger.warn('agent disconnect not recorded: the store cannot take writes; recorded when it can', { instanceId, reason: err.message });
      } else this.o.logger.error('recording an agent disconnect failed', { instanceId, error: String(err) });
    }
  }

  /** Records what the table missed; concurrent hellos share one catch-up. Rejects while the store still refuses. */
  catchUp(): Promise<void> {
    if (!this.resetPending && this.unrecorded.size === 0) return Promise.resolve();
    this.catchingUp ??= (async () => {
      if (this.resetPending) {
        // No stream is accepted before this succeeded: nothing connected yet is marked gone.
        await this.o.agents.markAllDisconnected();
        this.resetPending = false;
        this.unrecorded.clear();
      }
      for (const instanceId of [...this.unrecorded]) {
        this.unrecorded.delete(instanceId);
        if (!this.o.isConnected(instanceId)) await this.disconnected(instanceId);
      }
    })().finally(() => (this.catchingUp = undefined));
    return this.catchingUp;
  }
}
