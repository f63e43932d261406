/**
 * Bounds on the text an observation carries, and how text beyond them is cut.
 *
 * Much of an observation is chosen by whoever runs the process (arguments, the executable's path,
 * the user name in the container's /etc/passwd) or by whoever can post to a source. An over-long
 * value must never make the observation disappear — a command padded past a limit would then be
 * invisible — so oversized text is cut, ends with a visible marker `…[truncated N bytes]` (N: the
 * UTF-8 bytes cut off) and the observation is flagged `truncated`. The agent cuts in its
 * normalisers (so nothing oversized is held in its caches or shipped); the collector applies the
 * same cut to what arrives (an older or foreign agent), never a rejection.
 *
 * Lengths are in UTF-16 code units (JavaScript string length), the marker included.
 */
import type { Ancestor, Observation } from './model.js';

export const FIELD_LIMITS = {
  /** An executable path: PATH_MAX on Linux. */
  path: 4096,
  /** A process's argument string (Tetragon `arguments`, Falco `proc.args`). */
  args: 16_384,
  /** Kubernetes names (DNS subdomain), node names, peer DNS names, user names. */
  name: 253,
  /** Sensor ids: exec ids, session ids, container ids, image digests. */
  id: 512,
  /** An image reference as written in a pod spec. */
  image: 1024,
  /** An IP address (text). */
  address: 64,
} as const;

/** Most ancestors an observation carries (the agent rebuilds at most 32). */
export const MAX_ANCESTORS = 64;

const MARKER_PATTERN = /…\[truncated \d+ bytes\]$/;

function marker(bytes: number): string {
  return `…[truncated ${bytes} bytes]`;
}

/**
 * `text` when it fits in `max`, else its head, cut on a character boundary, followed by the marker
 * (the result is at most `max` long).
 */
export function clipText(text: string, max: number): string {
  if (text.length <= max) return text;
  // The marker is longest when all bytes are cut: reserve room for that many digits.
  let cut = Math.max(0, max - marker(Buffer.byteLength(text)).length);
  const c = text.charCodeAt(cut - 1);
  if (c >= 0xd800 && c <= 0xdbff) cut--; // never split a surrogate pair
  return text.slice(0, cut) + marker(Buffer.byteLength(text.slice(cut)));
}

/** Whether text ends with the truncation marker (what a reader of a sample can check). */
export function isClipped(text: string | null | undefined): boolean {
  return typeof text === 'string' && text.endsWith(' bytes]') && MARKER_PATTERN.test(text);
}

/** clipText for a nullable value. */
function clipNullable(text: string | null, max: number): string | null {
  return text === null ? null : clipText(text, max);
}

/**
 * Cuts every oversized text field of an observation in place and sets `truncated` when anything
 * was cut (it never clears the flag). Shared objects are replaced, never changed: the workload
 * (interned by the agent's resolver) and the ancestors (shared by the agent's lineage cache) get
 * copies when they need cutting. More than MAX_ANCESTORS ancestors: the nearest are kept and the
 * lineage becomes partial.
 */
export function clipObservation(o: Observation): boolean {
  if (!oversized(o)) return false;
  let cut = false;
  const text = (v: string, max: number): string => {
    const r = clipText(v, max);
    if (r !== v) cut = true;
    return r;
  };
  const nullable = (v: string | null, max: number): string | null => (v === null ? null : text(v, max));

  const w = o.workload;
  if (w.cluster.length > FIELD_LIMITS.name || w.namespace.length > FIELD_LIMITS.name || w.name.length > FIELD_LIMITS.name || w.container.length > FIELD_LIMITS.name) {
    o.workload = { ...w, cluster: text(w.cluster, FIELD_LIMITS.name), namespace: text(w.namespace, FIELD_LIMITS.name), name: text(w.name, FIELD_LIMITS.name), container: text(w.container, FIELD_LIMITS.name) };
  }
  o.node = text(o.node, FIELD_LIMITS.name);
  o.pod = nullable(o.pod, FIELD_LIMITS.name);
  if (o.run) o.run = text(o.run, FIELD_LIMITS.name);
  o.containerId = nullable(o.containerId, FIELD_LIMITS.id);
  if ((o.image.name?.length ?? 0) > FIELD_LIMITS.image || (o.image.digest?.length ?? 0) > FIELD_LIMITS.id) {
    o.image = { name: nullable(o.image.name, FIELD_LIMITS.image), digest: nullable(o.image.digest, FIELD_LIMITS.id) };
  }

  const p = o.process;
  p.exe = text(p.exe, FIELD_LIMITS.path);
  p.args = text(p.args, FIELD_LIMITS.args);
  p.user = nullable(p.user, FIELD_LIMITS.name);
  p.execId = nullable(p.execId, FIELD_LIMITS.id);
  p.parentExe = nullable(p.parentExe, FIELD_LIMITS.path);
  p.sessionId = nullable(p.sessionId, FIELD_LIMITS.id);
  if (p.ancestors.length > MAX_ANCESTORS) {
    p.ancestors = p.ancestors.slice(0, MAX_ANCESTORS);
    p.lineage = 'partial';
    cut = true;
  }
  if (p.ancestors.some(oversizedAncestor)) {
    cut = true;
    p.ancestors = p.ancestors.map((a) => (oversizedAncestor(a) ? clipAncestor(a) : a));
  }

  if (o.kind === 'network') {
    o.peerName = nullable(o.peerName, FIELD_LIMITS.name);
    o.peerIp = nullable(o.peerIp, FIELD_LIMITS.address);
    o.localIp = nullable(o.localIp, FIELD_LIMITS.address);
  }
  if (cut) o.truncated = true;
  return cut;
}

/** The common case, checked without allocating: nothing to cut. */
function oversized(o: Observation): boolean {
  const w = o.workload;
  const p = o.process;
  return (
    w.cluster.length > FIELD_LIMITS.name ||
    w.namespace.length > FIELD_LIMITS.name ||
    w.name.length > FIELD_LIMITS.name ||
    w.container.length > FIELD_LIMITS.name ||
    o.node.length > FIELD_LIMITS.name ||
    (o.pod?.length ?? 0) > FIELD_LIMITS.name ||
    (o.run?.length ?? 0) > FIELD_LIMITS.name ||
    (o.containerId?.length ?? 0) > FIELD_LIMITS.id ||
    (o.image.name?.length ?? 0) > FIELD_LIMITS.image ||
    (o.image.digest?.length ?? 0) > FIELD_LIMITS.id ||
    p.exe.length > FIELD_LIMITS.path ||
    p.args.length > FIELD_LIMITS.args ||
    (p.user?.length ?? 0) > FIELD_LIMITS.name ||
    (p.execId?.length ?? 0) > FIELD_LIMITS.id ||
    (p.parentExe?.length ?? 0) > FIELD_LIMITS.path ||
    (p.sessionId?.length ?? 0) > FIELD_LIMITS.id ||
    p.ancestors.length > MAX_ANCESTORS ||
    p.ancestors.some(oversizedAncestor) ||
    (o.kind === 'network' && ((o.peerName?.length ?? 0) > FIELD_LIMITS.name || (o.peerIp?.length ?? 0) > FIELD_LIMITS.address || (o.localIp?.length ?? 0) > FIELD_LIMITS.address))
  );
}

function oversizedAncestor(a: Readonly<Ancestor>): boolean {
  return a.exe.length > FIELD_LIMITS.path || (a.args?.length ?? 0) > FIELD_LIMITS.args || (a.execId?.length ?? 0) > FIELD_LIMITS.id;
}

function clipAncestor(a: Readonly<Ancestor>): Ancestor {
  return { exe: clipText(a.exe, FIELD_LIMITS.path), args: clipNullable(a.args, FIELD_LIMITS.args), pid: a.pid, execId: clipNullable(a.execId, FIELD_LIMITS.id) };
}
