import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Option, type Command } from 'commander';
import { AddressSetError, parseAddressSetDocument, type AddressSetFile } from '../collector/addresses/address-sets.js';
import { parseDuration } from '../common/duration.js';

/** `--kind` → the format the collector's loader recognises the file as. */
const FORMAT_OF_KIND = { aws: 'aws', google: 'gcp', azure: 'azure' } as const satisfies Record<string, AddressSetFile['format']>;
type Kind = keyof typeof FORMAT_OF_KIND;

const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['127.0.0.1', '[::1]', 'localhost']);

/**
 * AWS ip-ranges.json is about 2 MB and Azure's Service Tags file about 6 MB (Google's cloud.json
 * far less): 64 MiB leaves room for years of growth yet stops an endless or wrong download.
 */
const DEFAULT_MAX_SIZE = 64 * 1024 * 1024;

/** `driftwatch address-sets refresh`: a provider's published ranges, checked, into the sets directory. */
export function register(program: Command): void {
  const cmd = program.command('address-sets').description('named address sets (collector.network.addressSetsDir)');
  cmd
    .command('refresh')
    .description("download (or copy) a provider's published ranges, check them as the collector reads them, and replace --out only when they are valid")
    .requiredOption('--from <url|file>', 'an https:// URL (http:// only from this machine), or a local file')
    .addOption(new Option('--kind <kind>', 'the format the file must be in').choices(Object.keys(FORMAT_OF_KIND)).makeOptionMandatory())
    .requiredOption('--out <file>', 'where the collector reads it: a .json (or .json.gz) file in collector.network.addressSetsDir')
    .option('--timeout <duration>', 'for the whole download', '60s')
    .option('--max-size <bytes>', 'refuse a larger file', String(DEFAULT_MAX_SIZE))
    .action(async (opts: { from: string; kind: Kind; out: string; timeout: string; maxSize: string }) => {
      const maxBytes = Number(opts.maxSize);
      if (!Number.isInteger(maxBytes) || maxBytes < 1) throw new Error(`--max-size: not a positive number of bytes: ${opts.maxSize}`);
      if (!/\.json(\.gz)?$/.test(opts.out) || basename(opts.out).startsWith('.')) throw new Error(`--out ${opts.out}: the collector reads only *.json or *.json.gz files (not starting with a dot)`);
      const raw = /^https?:\/\//i.test(opts.from) ? await download(opts.from, parseDuration(opts.timeout), maxBytes) : await readLocal(opts.from, maxBytes);
      const text = decoded(raw, opts.from);
      const parsed = check(text, opts);
      await writeAtomically(opts.out, opts.out.endsWith('.gz') ? gzipSync(text) : Buffer.from(text));
      const sets = new Set(parsed.entries.map((e) => e.set)).size;
      process.stdout.write(`${opts.out}: ${opts.kind} ranges written (${parsed.entries.length} ranges in ${sets} sets); the collector reads address sets at start: restart it to use them\n`);
    });
}

async function download(url: string, timeoutMs: number, maxBytes: number): Promise<Buffer> {
  // Ranges decide which addresses are allowed: a plaintext download could be rewritten on the way.
  const { protocol, hostname } = new URL(url);
  if (protocol === 'http:' && !LOOPBACK_HOSTS.has(hostname)) throw new Error(`${url}: use https (plain http only from this machine: 127.0.0.1, [::1], localhost)`);
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw new Error(`${url}: download failed: ${causeOf(err)}`);
  }
  if (!res.ok) throw new Error(`${url}: download failed: HTTP ${res.status}`);
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > maxBytes) throw new Error(`${url}: ${declared} bytes, more than --max-size ${maxBytes}`);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of res.body ?? []) {
      size += chunk.length;
      if (size > maxBytes) throw new Error(`more than --max-size ${maxBytes} bytes`);
      chunks.push(Buffer.from(chunk));
    }
  } catch (err) {
    await res.body?.cancel().catch(() => undefined);
    throw new Error(`${url}: download failed: ${causeOf(err)}`);
  }
  return Buffer.concat(chunks);
}

async function readLocal(path: string, maxBytes: number): Promise<Buffer> {
  const raw = await readFile(path).catch((err: NodeJS.ErrnoException) => {
    throw new Error(`${path}: cannot read: ${err.code ?? String(err)}`);
  });
  if (raw.length > maxBytes) throw new Error(`${path}: ${raw.length} bytes, more than --max-size ${maxBytes}`);
  return raw;
}

/** The document as the collector will parse it, in the format --kind names. */
function check(text: string, opts: { from: string; kind: Kind }): AddressSetFile {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new Error(`${opts.from}: not valid JSON: ${(err as Error).message.split('\n')[0]}; nothing written`);
  }
  let parsed: AddressSetFile;
  try {
    parsed = parseAddressSetDocument(doc, opts.from);
  } catch (err) {
    throw new Error(`${err instanceof AddressSetError ? err.message : String(err)}; nothing written`);
  }
  if (parsed.format !== FORMAT_OF_KIND[opts.kind]) throw new Error(`${opts.from}: a ${parsed.format} file, not ${opts.kind}; nothing written`);
  if (parsed.entries.length === 0) throw new Error(`${opts.from}: no ranges in it; nothing written`);
  return parsed;
}

/** The text of the file: providers publish plain JSON, a mirror may serve it gzip-compressed. */
function decoded(raw: Buffer, from: string): string {
  const gzip = raw.length > 2 && raw[0] === 0x1f && raw[1] === 0x8b;
  try {
    return (gzip ? gunzipSync(raw) : raw).toString('utf8');
  } catch (err) {
    throw new Error(`${from}: not valid gzip: ${(err as Error).message}; nothing written`);
  }
}

/** A temporary file beside the target (a dot file: the collector skips it), renamed over it. */
async function writeAtomically(path: string, content: Buffer): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    await writeFile(temp, content, { mode: 0o644 });
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw new Error(`${path}: cannot write: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

function causeOf(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return 'timed out';
  return e.cause?.code ?? e.cause?.message ?? e.message;
}
