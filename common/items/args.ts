/**
 * Argument generalisation: the same command on another day, pod or port is one pattern.
 */

const TEMP_PATH = /(^|[\s=:,])(\/tmp|\/var\/tmp|\/dev\/shm)\/[^\s]+/g;
const UUID = /[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}/g;
const TIMESTAMP = /\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?/g;
/** Hex runs of 8+ characters containing at least one digit (hashes, container ids, nonces). */
const HEX = /\b(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{8,}\b/g;
const MKTEMP = /\b(tmp|temp)[._-][A-Za-z0-9]{4,}\b/gi;
/** Digit runs not glued to a word (`sha256`, `python3`, `x86_64` keep their digits). */
const NUMBER = /(?<![A-Za-z0-9_])\d+/g;
const STARS = /\*+/g;
export const MAX_ARGS_LENGTH = 512;

/**
 * Generalises an argument string into a glob pattern: numbers, hex hashes, UUIDs, timestamps and
 * temp-file names become `*`, so that the same command on another day, pod or port is one pattern.
 * A literal `*` in the arguments stays a `*` (it matches itself too). Long strings are cut at
 * MAX_ARGS_LENGTH and end with `*`.
 */
export function generaliseArgs(args: string): string {
  let s = args.length > MAX_ARGS_LENGTH ? args.slice(0, MAX_ARGS_LENGTH) + '*' : args;
  s = s.replace(TEMP_PATH, (_m, lead: string, dir: string) => `${lead}${dir}/*`);
  s = s.replace(UUID, '*').replace(TIMESTAMP, '*').replace(HEX, '*').replace(MKTEMP, '$1.*').replace(NUMBER, '*');
  return s.replace(STARS, '*').trim();
}
