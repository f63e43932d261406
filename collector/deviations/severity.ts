/**
 * Severity of a deviation: a fixed, documented rule table (docs/detection.md). The first rule that
 * matches wins; its name is the deviation's `severityReason`, shown to people.
 */
import type { Severity } from '../../common/deviations.js';
import { EXTERNAL_PEER_CLASSES, type Item, type NetworkItem, type ProcessItem } from '../../common/items/keys.js';
import type { Observation, ProcessContext } from '../../common/model.js';
import { formatIpv4, parseCidr } from '../../common/cidr.js';

export interface SeverityVerdict {
  severity: Severity;
  reason: string;
}

const SHELLS = new Set(['sh', 'bash', 'dash', 'ash', 'zsh', 'ksh', 'mksh', 'csh', 'tcsh', 'fish', 'busybox']);
const PACKAGE_MANAGERS = new Set(['apt', 'apt-get', 'aptitude', 'dpkg', 'yum', 'dnf', 'microdnf', 'rpm', 'apk', 'zypper', 'pacman', 'pip', 'pip3', 'npm', 'yarn', 'gem', 'cargo', 'go']);
const NETWORK_TOOLS = new Set([
  'curl', 'wget', 'nc', 'ncat', 'netcat', 'socat', 'nmap', 'masscan', 'telnet', 'ssh', 'scp', 'sftp', 'ftp', 'tftp', 'tcpdump',
  'tshark', 'dig', 'nslookup', 'host', 'ping', 'traceroute', 'kubectl', 'rsync',
]);
const TEMP_DIRS = ['/tmp/', '/dev/shm/', '/var/tmp/', '/run/shm/'];
/**
 * Other places a process can write an executable to in a typical image (images ship binaries in
 * /usr, /bin, /opt, /app): home directories, runtime state, message queues, and anonymous memory
 * (`memfd_create` + `execveat`, shown as /memfd:… or a /proc fd path) — droppers' favourites.
 */
const WRITABLE_DIRS = ['/root/', '/home/', '/run/', '/var/run/', '/dev/mqueue/', '/memfd:', '/proc/self/fd/', '/dev/fd/'];
/** AWS/GCP/Azure/OCI IMDS, its IPv6 form, Alibaba Cloud, and the ECS task metadata endpoint. */
const METADATA_IPS = new Set(['169.254.169.254', 'fd00:ec2::254', '100.100.100.200', '169.254.170.2']);
const METADATA_NAMES = new Set(['metadata.google.internal', 'metadata.azure.com', 'instance-data.ec2.internal']);

/** The rules that still alert while a baseline learns: the first things an attacker does. */
const LEARNING_ALERTS = new Set(['package manager', 'network tool', 'binary in a temporary directory', 'binary from a writable path', 'cloud metadata service', 'Kubernetes API']);
const KUBE_API_PORTS = new Set([443, 6443]);

export function basename(path: string): string {
  const i = path.lastIndexOf('/');
  return i === -1 ? path : path.slice(i + 1);
}

/** Versioned interpreters count as their family (`python3.12` → python3). */
function toolName(exe: string): string {
  return basename(exe).replace(/(\d)\.\d+$/, '$1');
}

export function isShell(exe: string): boolean {
  return SHELLS.has(toolName(exe));
}

/** A shell started without a command (`bash`, `sh -i`, `bash -il`): someone typing. */
export function isInteractiveShell(p: ProcessContext): boolean {
  return isShell(p.exe) && !/(^|\s)-[a-z]*c/.test(p.args);
}

/**
 * An interactive shell started by the workload's own processes when its entrypoint is not a shell
 * (a reverse or web shell); a container whose entrypoint is a shell (a toolbox) is left out.
 */
function isShellInNonShellWorkload(p: ProcessContext): boolean {
  const entrypoint = p.ancestors[p.ancestors.length - 1];
  return p.inInitTree !== false && isInteractiveShell(p) && entrypoint !== undefined && !isShell(entrypoint.exe);
}

export interface SeverityContext {
  /** The cluster's Service CIDRs: the first address of each is the `kubernetes` Service by convention. */
  serviceCidrs: readonly string[];
}

export class SeverityRules {
  private readonly kubernetesServiceIps: Set<string>;

  constructor(ctx: SeverityContext) {
    this.kubernetesServiceIps = new Set();
    for (const text of ctx.serviceCidrs) {
      const c = parseCidr(text);
      if (c?.v === 4) this.kubernetesServiceIps.add(formatIpv4(c.base + 1));
    }
  }

  /** `processExe`: the executable that owns a network item's socket, when known. */
  forItem(item: Item, processExe: string | null): SeverityVerdict {
    return item.kind === 'process' ? this.forProcess(item) : this.forNetwork(item, processExe);
  }

  forProcess(item: ProcessItem): SeverityVerdict {
    const name = toolName(item.exe);
    if (SHELLS.has(name)) return { severity: 'high', reason: 'shell' };
    if (PACKAGE_MANAGERS.has(name)) return { severity: 'high', reason: 'package manager' };
    if (NETWORK_TOOLS.has(name)) return { severity: 'high', reason: 'network tool' };
    if (TEMP_DIRS.some((d) => item.exe.startsWith(d))) return { severity: 'high', reason: 'binary in a temporary directory' };
    if (WRITABLE_DIRS.some((d) => item.exe.startsWith(d))) return { severity: 'high', reason: 'binary from a writable path' };
    return { severity: 'medium', reason: 'new executable' };
  }

  /**
   * While a baseline learns (the first window, or a release under `relearn`), what these rules
   * find still alerts instead of being learned: an attacker landing during a learning window must
   * not become part of the baseline (docs/detection.md). Null: learn it as usual.
   */
  whileLearning(item: Item, obs: Observation): SeverityVerdict | null {
    if (obs.kind === 'process' && isShellInNonShellWorkload(obs.process)) return { severity: 'high', reason: 'interactive shell in a non-shell workload' };
    const verdict = this.forItem(item, obs.process.exe);
    return LEARNING_ALERTS.has(verdict.reason) ? verdict : null;
  }

  forNetwork(item: NetworkItem, processExe: string | null): SeverityVerdict {
    const ip = item.peer.ip ?? null;
    if ((ip !== null && METADATA_IPS.has(ip)) || METADATA_NAMES.has(item.peerName?.toLowerCase() ?? '')) return { severity: 'high', reason: 'cloud metadata service' };
    if (this.isKubernetesApi(item)) return { severity: 'high', reason: 'Kubernetes API' };
    if (item.direction === 'listen') return { severity: 'high', reason: 'new listening port' };
    if (item.direction === 'egress' && processExe !== null && isShell(processExe)) return { severity: 'high', reason: 'shell with a network connection' };
    if (item.direction === 'egress' && EXTERNAL_PEER_CLASSES.has(item.peer.class)) return { severity: 'medium', reason: 'new external egress' };
    if (item.direction === 'ingress' && EXTERNAL_PEER_CLASSES.has(item.peer.class)) return { severity: 'medium', reason: 'new external ingress' };
    if (item.peer.class === 'loopback') return { severity: 'info', reason: 'loopback' };
    return { severity: 'low', reason: item.direction === 'ingress' ? 'new in-cluster client' : 'new in-cluster peer' };
  }

  private isKubernetesApi(item: NetworkItem): boolean {
    if (item.direction !== 'egress') return false;
    const name = item.peerName?.toLowerCase() ?? '';
    if (name === 'kubernetes' || name.startsWith('kubernetes.default')) return true;
    if (item.peer.class === 'service' && item.peer.name === 'default/kubernetes') return true;
    if (item.peer.class === 'service' && item.peer.ip && this.kubernetesServiceIps.has(item.peer.ip) && item.port !== null && KUBE_API_PORTS.has(item.port)) return true;
    // An API server reached directly (node or external address) on its own port.
    return item.port === 6443 && item.peer.class !== 'loopback';
  }
}

/** Denied items are always critical; the rest of the fixed kinds. */
export const FIXED_SEVERITY = {
  denied: { severity: 'critical', reason: 'denied by a declared baseline' },
  interactiveSession: { severity: 'high', reason: 'interactive session (exec into the container)' },
  overflow: { severity: 'medium', reason: 'baseline item cap reached: learning stopped adding items' },
  imageChange: { severity: 'medium', reason: 'new image digest under the alert policy' },
} as const satisfies Record<string, SeverityVerdict>;

