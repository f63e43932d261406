/** Retention as every backend applies it, inside one of its transactions. */
import type { RetentionPolicy } from './contract.js';
import type { SqlRepositories } from './repositories.js';

export async function pruneRetention(tx: SqlRepositories, policy: RetentionPolicy, nowMs: number): Promise<{ observations: number; agents: number }> {
  return {
    observations: await tx.observations.prune(policy.observationsMs),
    agents: await tx.agents.prune(policy.agentsMs, nowMs),
  };
}
