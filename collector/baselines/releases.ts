/**
 * Releases under the `carry-forward` image policy: each image (digest) of a workload container is
 * a baseline generation of its own, which starts as a copy of its predecessor's effective baseline
 * and is enforced from its first event — no learning window for an attacker to land in after a
 * rollout. What a release does beyond its predecessor is a deviation marked "new in this release"
 * (`releaseNoteFor`), alerted as one group per rollout; approving it adds it to the release.
 *
 * Declared allow rules are not copied: they apply to every generation of the workloads they select
 * for as long as their file says so. Pods of an earlier image (a rollout in progress, a rollback)
 * are judged by their own generation (lifecycle.ts finds it by digest).
 */
import type { ReleaseNote, Severity } from '../../common/deviations.js';
import type { Observation } from '../../common/model.js';
import type { ChangeSet } from '../changes.js';
import type { Repositories } from '../store/contract.js';
import type { BaselineLifecycle } from './lifecycle.js';
import { emptyView, rebuildPrefixGroups, type BaselineView, type BaselineViews } from './view.js';

/** Severities that are never put down to a release: they alert on their own, as an attack would. */
const NEVER_A_RELEASE: ReadonlySet<Severity> = new Set(['high', 'critical']);

/**
 * Starts the generation of a new image as a copy of `view` (items learned or added by a person,
 * with their phases), and supersedes `view`. Enforced at once, unless `view` was still learning:
 * then the copy learns on until the same window end.
 */
export async function carryForward(tx: Repositories, lifecycle: BaselineLifecycle, views: BaselineViews, view: BaselineView, obs: Observation, changes: ChangeSet): Promise<BaselineView> {
  const learning = view.b.phase === 'learning';
  await lifecycle.setPhase(tx, view, 'superseded', changes);
  const digest = obs.image.digest!;
  const b = await tx.baselines.insert({
    workloadId: view.workloadId,
    generation: view.b.generation + 1,
    imageDigest: digest,
    imageDigests: [digest],
    phase: learning ? 'learning' : 'active',
    completeness: view.b.completeness,
    version: 1,
    learningStartMs: learning ? view.b.learningStartMs : null,
    learningUntilMs: learning ? view.b.learningUntilMs : null,
    lastNewItemMs: learning ? view.b.lastNewItemMs : null,
    imageName: obs.image.name,
    carriedFromId: view.b.id,
    releasedAtMs: obs.time,
  });
  const next = emptyView(view.workloadId, view.workload, b, obs.time);
  for (const it of view.items.values()) {
    const { id: _id, baselineId: _baselineId, addedInVersion: _version, ...copy } = it;
    next.items.set(it.key, await tx.baselines.insertItem({ ...copy, detail: structuredClone(it.detail), baselineId: b.id, addedInVersion: 1 }));
  }
  rebuildPrefixGroups(next);
  views.putCurrent(next);
  changes.edgeWorkloads.add(view.workloadId);
  await lifecycle.announce(tx, b.id, null, changes);
  return next;
}

/**
 * Is a deviation about to be raised on this generation something its release added? Yes for a
 * carried-forward generation, enforced, within `windowMs` (event time) of the release's first
 * event, unless its severity is high or critical (a shell, a package manager, the metadata
 * service… alert as themselves, never folded into a rollout).
 */
export async function releaseNoteFor(tx: Repositories, view: BaselineView, severity: Severity, timeMs: number, windowMs: number): Promise<ReleaseNote | null> {
  const b = view.b;
  if (b.carriedFromId === null || b.releasedAtMs === null || b.phase === 'learning' || NEVER_A_RELEASE.has(severity)) return null;
  if (timeMs < b.releasedAtMs || timeMs >= b.releasedAtMs + windowMs) return null;
  const from = await tx.baselines.get(b.carriedFromId);
  return {
    fromBaselineId: b.carriedFromId,
    toBaselineId: b.id,
    from: imageLabel(from?.imageName ?? null, from?.imageDigest ?? null),
    to: imageLabel(b.imageName, b.imageDigest),
    releasedAtMs: b.releasedAtMs,
  };
}

function imageLabel(name: string | null, digest: string | null): string {
  if (name && digest) return `${name}@${digest}`;
  return name ?? digest ?? 'unknown image';
}
