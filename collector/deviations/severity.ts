/**
 * Severity of a deviation: a fixed, documented rule table (docs/detection.md). The first rule that
 * matches wins; its name is the deviation's `severityReason`, shown to people.
 */
import type { Severity } from '../../common/deviations.js';
import { EXTERNAL_PEER_CLASSES, type Item, type NetworkItem, type ProcessItem } from '../../common/items/keys.js';
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
const METADATA_IPS = new Set(['169.254.169.254', 'fd00:ec2::254', '100.100.100.200']);
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
    return { severity: 'medium', reason: 'new executable' };
  }

  forNetwork(item: NetworkItem, processExe: string | null): SeverityVerdict {
    const ip = item.peer.ip ?? null;
    if (ip !== null && METADATA_IPS.has(ip)) return { severity: 'high', reason: 'cloud metadata service' };
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

