/** Declared-baseline files the tests write into a collector's baselines directory. */

/** A deny list for the shop namespace: nmap is never allowed. */
export const DENY_NMAP = `apiVersion: driftwatch.dev/v1
kind: Baseline
metadata:
  name: no-scanners
spec:
  selector: { namespace: shop }
  deny:
    processes:
      - path: /usr/bin/nmap
`;
