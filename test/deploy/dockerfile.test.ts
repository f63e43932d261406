/**
 * The Dockerfile cannot be built here (no container engine), so its promises are checked
 * statically: multi-stage, pinned bases, production dependencies only, a non-root distroless
 * runtime without shell use, the CLI entry point, and an image content that carries what the
 * code loads at run time (proto/, ui/) — as `npm pack` would select it.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { packagePath } from '../../common/paths.js';

interface Instruction {
  op: string;
  args: string;
}

/** Dockerfile instructions with line continuations joined and comments dropped. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue;
    pending += (pending ? ' ' : '') + line.replace(/\\$/, '').trim();
    if (line.endsWith('\\')) continue;
    const m = /^(\w+)\s+(.*)$/.exec(pending);
    if (m) out.push({ op: m[1]!.toUpperCase(), args: m[2]! });
    pending = '';
  }
  return out;
}

const dockerfile = parseDockerfile(readFileSync(packagePath('Dockerfile'), 'utf8'));
const args = new Map(dockerfile.filter((i) => i.op === 'ARG').map((i) => i.args.split('=') as [string, string]));
const resolveImage = (ref: string): string => ref.replace(/^\$\{(\w+)\}/, (_, name: string) => args.get(name) ?? `<unset ${name}>`);
const stages: { image: string; name?: string; body: Instruction[] }[] = [];
for (const i of dockerfile) {
  if (i.op === 'FROM') {
    const [image, as, name] = i.args.split(/\s+/);
    stages.push({ image: resolveImage(image!), ...(as?.toUpperCase() === 'AS' && name ? { name } : {}), body: [] });
  } else if (stages.length > 0) stages[stages.length - 1]!.body.push(i);
}

t.test('multi-stage build from pinned bases', async (t) => {
  t.ok(stages.length >= 2, 'a build stage and a runtime stage');
  for (const s of stages) {
    t.notMatch(s.image, /:latest(@|$)/, `${s.image} is not :latest`);
    t.match(s.image, /:[\w.-]+(@sha256:[0-9a-f]{64})?$|@sha256:[0-9a-f]{64}$/, `${s.image} has an explicit tag or digest`);
  }
  t.equal(stages[0]!.image, 'node:20-bookworm-slim', 'builds with Node 20 on Debian 12');
  t.equal(stages.at(-1)!.image, 'gcr.io/distroless/nodejs20-debian12:nonroot', 'runs on distroless Node 20, Debian 12, nonroot');
});

t.test('the build installs from the lock file and keeps production dependencies only', async (t) => {
  const build = stages[0]!.body.filter((i) => i.op === 'RUN').map((i) => i.args).join(' && ');
  t.match(build, /npm ci\b/, 'npm ci (the lock file, nothing else)');
  t.match(build, /npm run build\b/, 'compiles TypeScript');
  t.match(build, /npm prune --omit=dev\b/, 'drops devDependencies before the copy into the runtime image');
  t.match(build, /npm rebuild better-sqlite3\b/, 'builds the native SQLite addon explicitly (install scripts are off)');
});

t.test('the runtime stage is non-root, needs no shell, and starts the CLI', async (t) => {
  const runtime = stages.at(-1)!.body;
  t.same(runtime.filter((i) => i.op === 'RUN'), [], 'no RUN: distroless has no shell');
  const user = runtime.filter((i) => i.op === 'USER').at(-1)?.args;
  t.ok(user && !/^(0|root)(:|$)/.test(user), `runs as a non-root user (${user})`);
  const entrypoint = runtime.find((i) => i.op === 'ENTRYPOINT')?.args;
  t.same(JSON.parse(entrypoint ?? 'null'), ['/nodejs/bin/node', 'dist/cli/main.js'], 'exec-form entry point: node dist/cli/main.js');
  const copies = runtime.filter((i) => i.op === 'COPY').map((i) => i.args);
  t.ok(copies.length > 0 && copies.every((c) => c.includes('--from=')), 'the runtime stage only copies build output, never the context');

  // dist/cli/main.js comes from cli/main.ts through tsconfig.build.json.
  const buildConfig = JSON.parse(readFileSync(packagePath('tsconfig.build.json'), 'utf8')) as { include: string[] };
  const base = JSON.parse(readFileSync(packagePath('tsconfig.json'), 'utf8')) as { compilerOptions: { outDir: string; rootDir: string } };
  t.ok(buildConfig.include.includes('cli') && existsSync(packagePath('cli', 'main.ts')), 'cli/main.ts is compiled by the build');
  t.same([base.compilerOptions.outDir, base.compilerOptions.rootDir], ['dist', '.'], 'to dist/cli/main.js');
});

t.test('the image carries what the code loads at run time', async (t) => {
  // `npm pack` selects the image content (package.json "files"); ask npm what it would take.
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: packagePath(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const files = new Set((JSON.parse(out) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path));
  t.ok(files.has('package.json'), 'package.json (the package root marker and the version)');
  t.ok([...files].some((f) => f.startsWith('proto/') && f.endsWith('.proto')), 'proto/ (gRPC schemas are loaded from disk)');
  t.ok(files.has('ui/index.html'), 'ui/ (the collector serves it)');
  t.notOk([...files].some((f) => f.startsWith('test/') || f.startsWith('deploy/') || f.startsWith('node_modules/')), 'no tests, manifests or dependencies from the working tree');
});

t.test('.dockerignore keeps local state and secrets out of the build context', async (t) => {
  const ignored = new Set(readFileSync(packagePath('.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')));
  for (const p of ['.git', 'node_modules', 'dist', 'data', '.tap', '*.key', '*.pem']) t.ok(ignored.has(p), `${p} is not sent to the builder`);
});
