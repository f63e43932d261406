import type { Command } from 'commander';
import type { AgentView } from '../collector/store/reports.js';
import { clientFrom, printTable, time, withClientOptions, type ApiClient, type ClientOptions } from './client.js';
import { outputFormat, printNames, printStructured } from './output.js';

interface ListOptions extends ClientOptions {
  limit?: string;
  cursor?: string;
  all?: boolean;
}

type Page = { items: AgentView[]; next: string | null };

/**
 * Every page from `cursor` on: the API never answers a fleet's history in one response, and the
 * CLI does not hold it either — each page is printed before the next is asked for.
 */
async function* pages(client: ApiClient, opts: ListOptions): AsyncGenerator<Page> {
  let cursor = opts.cursor;
  do {
    const page = await client.get<Page>('/agents', { limit: opts.limit, cursor });
    yield page;
    cursor = page.next ?? undefined;
  } while (opts.all && cursor);
}

export function register(program: Command): void {
  const cmd = program.command('agents').description('the agents (one instance per agent start) and their health (through the collector API)');
  withClientOptions(cmd.command('list').description('list agent instances by node'))
    .option('--limit <n>', 'page size (the collector caps it at collector.api.maxPageSize)', '100')
    .option('--cursor <c>', 'continue after a previous page')
    .option('--all', 'follow every page')
    .action(async (opts: ListOptions) => {
      const format = outputFormat(opts);
      const client = clientFrom(opts);
      for await (const page of pages(client, opts)) {
        // JSON and YAML: one document per page, as the API answers it; a table per page.
        if (printStructured(format, page)) continue;
        if (format === 'name') printNames('agent', page.items.map((a) => a.instanceId));
        else
          printTable(
            ['NODE', 'INSTANCE', 'HEALTH', 'VERSION', 'SOURCES', 'LAST SEEN'],
            page.items.map((a) => [a.node, a.instanceId, a.health, a.version, a.sources.join(','), time(a.lastSeenAt)]),
            process.stdout,
            format === 'wide' ? 200 : 80,
          );
        if (page.next && !opts.all) process.stdout.write(`more: --cursor ${page.next} (or --all)\n`);
      }
    });
}
