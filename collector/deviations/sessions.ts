/**
 * Interactive sessions: commands exec'd into a container (`kubectl exec`) rather than started by
 * its own init tree. An interactive shell always opens a session deviation, even while learning
 * (an operator's debugging must not teach the baseline to accept the next `kubectl exec -- bash`).
 * Other exec'd commands (exec probes) are learned like any other and pass while allowed; from the
 * first one the baseline does not allow, the whole session is one deviation listing its commands.
 */
import type { ItemDeriver } from '../../common/items/derive.js';
import type { Item } from '../../common/items/keys.js';
import { MAX_SESSION_COMMANDS, type SessionCommand } from '../../common/deviations.js';
import type { Ancestor, Observation } from '../../common/model.js';
import type { EffectiveDeclared } from '../baselines/declared.js';
import { allows, type BaselineView } from '../baselines/view.js';
import type { ChangeSet } from '../changes.js';
import type { Repositories } from '../store/contract.js';
import type { DeviationEvaluator } from './evaluate.js';
import { FIXED_SEVERITY, isInteractiveShell } from './severity.js';

/** Parents kept per command: enough to tell `kubectl exec` → bash → sudo from a script's loop. */
const MAX_COMMAND_LINEAGE = 8;

/** `exe args`, as alerts and the console show a process. */
export function commandLine(p: Pick<Ancestor, 'exe' | 'args'>): string {
  return p.args ? `${p.exe} ${p.args}` : p.exe;
}

export class SessionTracker {
  constructor(
    private readonly deriver: ItemDeriver,
    private readonly evaluator: DeviationEvaluator,
  ) {}

  /**
   * Decides an exec'd command: part of a session deviation, allowed, or not a session matter at
   * all (null: the caller learns and evaluates it as usual).
   */
  async observe(
    tx: Repositories,
    view: BaselineView,
    obs: Observation,
    item: Item,
    decl: EffectiveDeclared,
    startup: boolean,
    enforced: boolean,
    changes: ChangeSet,
  ): Promise<'session' | 'allowed' | null> {
    if (obs.kind !== 'process' || obs.process.inInitTree !== false || obs.process.sessionId === null) return null;
    const sessionKey = `s|${obs.process.sessionId}`;
    const existing = await tx.deviations.find(view.b.id, sessionKey);
    if (existing || isInteractiveShell(obs.process) || (enforced && !allows(this.deriver, view, item, obs, decl, startup))) {
      const command: SessionCommand = { exe: obs.process.exe, args: obs.process.args, timeMs: obs.time, lineage: obs.process.ancestors.slice(0, MAX_COMMAND_LINEAGE).map(commandLine) };
      const all = [...(existing?.deviation.commands ?? []), command].sort((a, b) => a.timeMs - b.timeMs || a.exe.localeCompare(b.exe) || a.args.localeCompare(b.args));
      // The earliest commands are kept (event time: the same whatever order they arrive in); the rest counted.
      const commands = all.slice(0, MAX_SESSION_COMMANDS);
      const omitted = (existing?.deviation.commandsOmitted ?? 0) + (all.length - commands.length);
      const total = commands.length + omitted;
      const names = [...new Set(commands.map((c) => c.exe))];
      await this.evaluator.raiseFixed(
        tx,
        view,
        obs,
        {
          itemKey: sessionKey,
          kind: 'interactive-session',
          verdict: FIXED_SEVERITY.interactiveSession,
          summary: `interactive session: ${total} command${total === 1 ? '' : 's'} (${names.slice(0, 5).join(', ')}${names.length > 5 ? ', …' : ''})`,
          detail: { sessionId: obs.process.sessionId, entry: commands[0]?.exe ?? obs.process.exe, engine: { commandsOmitted: omitted } },
          commands,
        },
        changes,
      );
      return 'session';
    }
    return enforced ? 'allowed' : null;
  }
}
