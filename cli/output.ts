import { stringify } from 'yaml';
import { terminalSafeJson } from '../common/text.js';

/**
 * `-o table|wide|json|yaml|name` of the list and get commands, kubectl-style. JSON and YAML carry
 * the API's objects unchanged (scripts parse them); the characters a terminal would act on are
 * escaped in both, so neither output can move the cursor or reorder text.
 */
export const OUTPUT_FORMATS = ['table', 'wide', 'json', 'yaml', 'name'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** `-o`, with `--json` kept as the short form of `-o json`. */
export function outputFormat(opts: { output?: string; json?: boolean }): OutputFormat {
  if (opts.json) return 'json';
  const f = opts.output ?? 'table';
  if (!(OUTPUT_FORMATS as readonly string[]).includes(f)) throw new Error(`-o/--output: use one of ${OUTPUT_FORMATS.join(', ')} (got ${JSON.stringify(f)})`);
  return f as OutputFormat;
}

/** What a terminal acts on, beyond the C0 controls YAML already escapes itself. */
const UNSAFE_IN_YAML = /[\u007f-\u009f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * YAML with every string double-quoted and never folded: any character is then inside a quoted
 * scalar, where the `\uXXXX` escape keeps it exact and inert.
 */
export function safeYaml(value: unknown): string {
  return stringify(value, { defaultStringType: 'QUOTE_DOUBLE', defaultKeyType: 'PLAIN', lineWidth: 0, minContentWidth: 0 }).replace(
    UNSAFE_IN_YAML,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Prints `value` as JSON or YAML and returns true; false for the formats the command draws itself. */
export function printStructured(format: OutputFormat, value: unknown, out: NodeJS.WritableStream = process.stdout): boolean {
  if (format === 'json') out.write(terminalSafeJson(value, 2) + '\n');
  else if (format === 'yaml') out.write(safeYaml(value));
  else return false;
  return true;
}

/** `-o name`: one `kind/name` per line (names come from the API: made terminal-safe by the caller). */
export function printNames(kind: string, names: readonly (string | number)[], out: NodeJS.WritableStream = process.stdout): void {
  for (const n of names) out.write(`${kind}/${n}\n`);
}
