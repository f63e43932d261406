/**
 * Attacker-controlled text (process arguments, paths, pod names) printed to a terminal: control
 * characters (ESC sequences, CR, BEL, C1 controls) are shown as `\xNN`, never interpreted.
 */
export function terminalSafe(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
