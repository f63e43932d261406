/**
 * The measuring loop every benchmark shares: items per second of `fn` over `inputs` for one round
 * of ROUND_MS, and the median of several rounds. Contenders run alternately, round by round, so a
 * noisy neighbour hurts both alike and their ratio stays meaningful.
 */
export const ROUND_MS = 400;
export const ROUNDS = 7;

export function median(xs: readonly number[]): number {
  return [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
}

/** One round's rate (items/s) of `fn` over `inputs`; results are consumed so nothing is optimised away. */
export function rate<T>(inputs: readonly T[], fn: (x: T) => unknown): () => number {
  return () => {
    let n = 0;
    let sink = 0;
    const start = performance.now();
    let now = start;
    while (now - start < ROUND_MS) {
      for (let i = 0; i < inputs.length; i++) if (fn(inputs[i]!) !== undefined) sink++;
      n += inputs.length;
      now = performance.now();
    }
    if (sink < 0) throw new Error('unreachable');
    return (n * 1000) / (now - start);
  };
}
