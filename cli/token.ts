import { userInfo } from 'node:os';
import type { Command } from 'commander';
import type { Transaction } from '../collector/store/contract.js';
import { openStore } from '../collector/store/index.js';
import { isRole, ROLES } from '../collector/store/tokens.js';
import { parseDuration } from '../common/duration.js';
import { printJson, printTable, time } from './client.js';
import { configFrom } from './serve.js';

/**
 * `driftwatch token …` works on the collector's database directly (collector.dataDir): creating
 * the first admin token cannot go through an API that needs a token.
 */
export function register(program: Command): void {
  const cmd = program.command('token').description('API tokens for the console and the CLI (run where the collector database is)');
  const withDb = async <T>(opts: { config?: string }, fn: (tx: Transaction) => Promise<T>): Promise<T> => {
    const { config } = await configFrom(opts);
    const store = openStore({ dataDir: config.collector.dataDir });
    try {
      return await store.transaction(fn);
    } finally {
      await store.close();
    }
  };
  const actor = (): string => `cli:${userInfo().username}`;

  cmd
    .command('create')
    .description('create a token and print it once (only its hash is stored)')
    .requiredOption('--name <name>', 'who or what uses it (unique)')
    .requiredOption('--role <role>', ROLES.join(' | '))
    .option('--namespaces <a,b>', 'limit the token to these namespaces')
    .option('--expires <duration>', 'e.g. 90d (default: never)')
    .option('-c, --config <file>', 'YAML configuration file (collector.dataDir)')
    .option('--json', 'print JSON')
    .action(async (opts: { name: string; role: string; namespaces?: string; expires?: string; config?: string; json?: boolean }) => {
      if (!isRole(opts.role)) throw new Error(`--role must be one of ${ROLES.join(', ')}`);
      const role = opts.role;
      // `--namespaces ""` or `--namespaces ,` names no namespace: refused, never read as "all".
      const namespaces = opts.namespaces === undefined ? null : opts.namespaces.split(',').map((s) => s.trim()).filter(Boolean);
      if (namespaces && namespaces.length === 0) throw new Error('--namespaces: name at least one namespace (omit the option for every namespace)');
      for (const ns of namespaces ?? []) if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(ns)) throw new Error(`--namespaces: not a namespace name: ${JSON.stringify(ns)}`);
      const expiresAt = opts.expires ? new Date(Date.now() + parseDuration(opts.expires)).toISOString() : null;
      const { token, info } = await withDb(opts, async (tx) => {
        const created = await tx.tokens.create({ name: opts.name, role, namespaces, createdBy: actor(), expiresAt });
        await tx.audit.append({ actor: actor(), action: 'token.create', targetType: 'token', targetId: created.info.tokenId, namespace: null, after: created.info });
        return created;
      });
      if (opts.json) return printJson({ token, info });
      process.stdout.write(`${token}\n`);
      process.stderr.write(`token ${info.name} (${info.role}${info.namespaces ? `, namespaces ${info.namespaces.join(',')}` : ''}) created: store it now, it is not shown again\n`);
    });

  cmd
    .command('list')
    .description('tokens (never their secret)')
    .option('-c, --config <file>', 'YAML configuration file (collector.dataDir)')
    .option('--json', 'print JSON')
    .action(async (opts: { config?: string; json?: boolean }) => {
      const list = await withDb(opts, (tx) => tx.tokens.list());
      if (opts.json) return printJson(list);
      printTable(
        ['ID', 'NAME', 'ROLE', 'NAMESPACES', 'CREATED', 'LAST USED', 'STATE'],
        list.map((t) => [t.tokenId, t.name, t.role, t.namespaces?.join(',') ?? 'all', time(t.createdAt), time(t.lastUsedAt), t.revokedAt ? 'revoked' : t.expiresAt && Date.parse(t.expiresAt) < Date.now() ? 'expired' : 'active']),
      );
    });

  cmd
    .command('revoke')
    .description('revoke a token by name')
    .argument('<name>')
    .option('-c, --config <file>', 'YAML configuration file (collector.dataDir)')
    .action(async (name: string, opts: { config?: string }) => {
      await withDb(opts, async (tx) => {
        const before = (await tx.tokens.list()).find((t) => t.name === name);
        if (!before) throw new Error(`no token named ${JSON.stringify(name)}`);
        const after = await tx.tokens.revoke(before.tokenId);
        await tx.audit.append({ actor: actor(), action: 'token.revoke', targetType: 'token', targetId: before.tokenId, namespace: null, before, after });
      });
      process.stdout.write(`token ${name} revoked\n`);
    });
}
