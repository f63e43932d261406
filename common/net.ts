import { isIP } from 'node:net';

/** `host:port`, `[v6]:port` or `:port`. */
export function parseHostPort(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(value.trim());
  if (!m) throw new Error(`not host:port: ${JSON.stringify(value)}`);
  const host = m[1] ?? (m[2] === '' ? '0.0.0.0' : m[2]!);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`port out of range: ${value}`);
  return { host, port };
}

/** True for addresses that never leave the machine: loopback IPs, localhost and unix sockets. */
export function isLoopbackAddress(address: string): boolean {
  if (address.startsWith('unix:')) return true;
  let host: string;
  try {
    host = parseHostPort(address.replace(/^[a-z]+:\/\//, '')).host;
  } catch {
    return false;
  }
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1';
  return false;
}
