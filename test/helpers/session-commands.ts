/** What someone types in a `kubectl exec` shell: the shell itself, then eleven commands (twelve in all). */
export const SESSION_COMMANDS: readonly (readonly [exe: string, args: string])[] = [
  ['/bin/bash', ''],
  ['/usr/bin/id', ''],
  ['/usr/bin/whoami', ''],
  ['/bin/cat', '/etc/passwd'],
  ['/bin/ls', '-la /var/lib/postgresql/data'],
  ['/bin/ps', 'aux'],
  ['/usr/bin/env', ''],
  ['/bin/uname', '-a'],
  ['/bin/df', '-h'],
  ['/bin/hostname', ''],
  ['/bin/cat', '/proc/1/environ'],
  ['/usr/bin/psql', '-U postgres -c select usename, passwd from pg_shadow'],
];
