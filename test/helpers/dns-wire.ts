/** DNS responses in wire format (what Tetragon's udp_recvmsg probe captures), built with dns-packet. */
import dnsPacket from 'dns-packet';

export interface AnswerSpec {
  /** The question. */
  name: string;
  /** CNAME chain from the question, in order (each points to the next, the last to the addresses). */
  cnames?: string[];
  addresses: string[];
  ttl?: number;
  rcode?: 'NOERROR' | 'NXDOMAIN';
}

export function dnsResponse(spec: AnswerSpec): Buffer {
  const ttl = spec.ttl ?? 60;
  const chain = [spec.name, ...(spec.cnames ?? [])];
  const answers: dnsPacket.Answer[] = [];
  for (let i = 0; i + 1 < chain.length; i++) answers.push({ type: 'CNAME', name: chain[i]!, ttl, data: chain[i + 1]! });
  const last = chain[chain.length - 1]!;
  for (const a of spec.addresses) answers.push({ type: a.includes(':') ? 'AAAA' : 'A', name: last, ttl, data: a });
  const rcodeFlag = spec.rcode === 'NXDOMAIN' ? 3 : 0;
  return dnsPacket.encode({
    type: 'response',
    id: 4242,
    flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | rcodeFlag,
    questions: [{ type: spec.addresses[0]?.includes(':') ? 'AAAA' : 'A', name: spec.name }],
    answers: spec.rcode === 'NXDOMAIN' ? [] : answers,
  });
}

export function dnsQuery(name: string): Buffer {
  return dnsPacket.encode({ type: 'query', id: 7, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name }] });
}
