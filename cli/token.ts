import { userInfo } from 'node:os';
import type { Command } from 'commander';
import type { Transaction } from '../collector/store/contract.js';
import { openStore, redactedUrl, storeLocation, type StoreOptions } from '../collector/store/index.js';
import { isRole, ROLES } from '../collector/store/tokens.js';
import { parseDuration } from '../common/duration.js';
import { terminalSafe } from '../common/text.js';
import { printTable, time } from './client.js';
import { outputFormat, printNames, printStructured } from './output.js';
import { configFrom } from './serve.js';

/**
 * `driftwatch token …` works on the collector's database directly (collector.dataDir): creating
 * the first admin token cannot go through an API that needs a token.
 */
export function register(program: Command): void {
  const cmd = program.command('token').description('API tokens for the console and the CLI (run where the collector database is)');
  const withDb = async <T>(opts: DbOptions, fn: (tx: Transaction) => Promise<T>): Promise<T> => {
    const store = await openStore(await collectorStore(opts));
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
    .option('-c, --config <file>', "the collector's YAML configuration file (its collector.dataDir)")
    .option('--data-dir <dir>', "the collector's data directory (instead of --config)")
    .option('-o, --output <format>', 'token | json | yaml', 'token')
    .option('--json', 'the same as -o json')
    .action(async (opts: DbOptions & { name: string; role: string; namespaces?: string; expires?: string; output?: string; json?: boolean }) => {
      const format = opts.json ? 'json' : opts.output;
      if (format !== 'token' && format !== 'json' && format !== 'yaml') throw new Error(`-o/--output: use token, json or yaml (got ${JSON.stringify(format)})`);
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
      if (format !== 'token') return void printStructured(format, { token, info });
      process.stdout.write(`${token}\n`);
      process.stderr.write(`token ${info.name} (${info.role}${info.namespaces ? `, namespaces ${info.namespaces.join(',')}` : ''}) created: store it now, it is not shown again\n`);
    });

  cmd
    .command('list')
    .description('tokens (never their secret)')
    .option('-c, --config <file>', "the collector's YAML configuration file (its collector.dataDir)")
    .option('--data-dir <dir>', "the collector's data directory (instead of --config)")
    .option('-o, --output <format>', 'table | wide | json | yaml | name', 'table')
    .option('--json', 'the same as -o json')
    .action(async (opts: DbOptions & { output?: string; json?: boolean }) => {
      const format = outputFormat(opts);
      const list = await withDb(opts, (tx) => tx.tokens.list());
      if (printStructured(format, list)) return;
      if (format === 'name') return printNames('token', list.map((t) => terminalSafe(t.name)));
      const wide = format === 'wide';
      printTable(
        ['ID', 'NAME', 'ROLE', 'NAMESPACES', 'CREATED', 'LAST USED', 'STATE', ...(wide ? ['CREATED BY', 'EXPIRES'] : [])],
        list.map((t) => [
          t.tokenId,
          t.name,
          t.role,
          t.namespaces?.join(',') ?? 'all',
          time(t.createdAt),
          time(t.lastUsedAt),
          t.revokedAt ? 'revoked' : t.expiresAt && Date.parse(t.expiresAt) < Date.now() ? 'expired' : 'active',
          ...(wide ? [t.createdBy, time(t.expiresAt)] : []),
        ]),
      );
    });

  cmd
    .command('revoke')
    .description('revoke a token by name')
    .argument('<name>')
    .option('-c, --config <file>', "the collector's YAML configuration file (its collector.dataDir)")
    .option('--data-dir <dir>', "the collector's data directory (instead of --config)")
    .action(async (name: string, opts: DbOptions) => {
      await withDb(opts, async (tx) => {
        const before = (await tx.tokens.list()).find((t) => t.name === name);
        if (!before) throw new Error(`no token named ${JSON.stringify(name)}`);
        const after = await tx.tokens.revoke(before.tokenId);
        await tx.audit.append({ actor: actor(), action: 'token.revoke', targetType: 'token', targetId: before.tokenId, namespace: null, before, after });
      });
      process.stdout.write(`token ${name} revoked\n`);
    });
}

interface DbOptions {
  config?: string;
  dataDir?: string;
}

/**
 * The running collector's data directory. Tokens work only in the database the collector reads:
 * a missing database is refused, never created (a token in a new ./data would fail with 401),
 * and the one used is named on stderr.
 */
/** The collector's store: its PostgreSQL database (collector.store in --config), else its SQLite file, which must exist. */
async function collectorStore(opts: DbOptions): Promise<StoreOptions> {
  if (opts.config !== undefined && opts.dataDir !== undefined) throw new Error('give --config or --data-dir, not both');
  const collector = opts.dataDir === undefined ? (await configFrom(opts)).config.collector : undefined;
  if (collector?.store.kind === 'postgres') {
    process.stderr.write(`using the collector database ${redactedUrl(collector.store.url ?? '')} (collector.store in ${opts.config ?? 'the configuration'})\n`);
    return { dataDir: collector.dataDir, store: collector.store };
  }
  const dataDir = opts.dataDir ?? collector!.dataDir;
  const from = opts.dataDir !== undefined ? '--data-dir' : opts.config !== undefined ? `collector.dataDir in ${opts.config}` : 'the default collector.dataDir (no --config given)';
  const { path: file, exists } = storeLocation(dataDir);
  if (!exists)
    throw new Error(`no collector database at ${file} (${from}): point --config at the running collector's configuration or --data-dir at its data directory (the collector creates the database when it starts; \`driftwatch demo\` prints its directory)`);
  process.stderr.write(`using the collector database ${file} (${from})\n`);
  return { dataDir };
}
