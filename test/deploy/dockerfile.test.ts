/**
 * The Dockerfile cannot be built here (no container engine runs), so its promises are checked
 * statically: multi-stage, a supported Node.js LTS set in one place, production dependencies
 * only, the native addon built for the runtime's Node.js, a non-root distroless runtime without
 * shell use, the CLI entry point, and an image content that carries what the code loads at run
 * time (proto/, ui/) — as `npm pack` would select it. `npm run image` (deploy/image/build.sh) is
 * run for real: with the builders this machine has, and with none.
 */
import t from 'tap';
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
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
/** `${NAME}` references expanded from the ARG defaults declared so far (as the builder does). */
const args = new Map<string, string>();
const expand = (text: string): string => text.replace(/\$\{(\w+)\}/g, (_, name: string) => args.get(name) ?? `<unset ${name}>`);
for (const i of dockerfile.filter((x) => x.op === 'ARG')) {
  const [name, value] = i.args.split(/=(.*)/s) as [string, string | undefined];
  if (value !== undefined) args.set(name, expand(value));
}
const resolveImage = expand;
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
});

t.test('one supported Node.js LTS, set in one place, for both stages', async (t) => {
  const major = Number(args.get('NODE_MAJOR'));
  // Even majors are the LTS lines; 20 reached end of life on 2026-04-30.
  t.ok(Number.isInteger(major) && major % 2 === 0 && major >= 22, `NODE_MAJOR=${major} is a supported LTS (22 or later)`);
  t.equal(stages[0]!.image, `node:${major}-bookworm-slim`, `builds with Node ${major} on Debian 12`);
  t.equal(stages.at(-1)!.image, `gcr.io/distroless/nodejs${major}-debian12:nonroot`, `runs on distroless Node ${major}, Debian 12, nonroot (same Node ABI and glibc as the build stage)`);
  const text = readFileSync(packagePath('Dockerfile'), 'utf8');
  t.equal(text.match(/^ARG NODE_MAJOR=/gm)?.length, 1, 'NODE_MAJOR is declared once');
  t.notMatch(text.replace(/^#.*$/gm, ''), new RegExp(`(node:|nodejs)${major}\\b`), 'and never repeated as a literal outside comments');
  // The package itself still installs and runs on the Node 20 of the development machines.
  const engines = (JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
  t.equal(engines, '>=20.19', 'engines still admits Node 20.19+');
});

t.test('the build installs from the lock file and keeps production dependencies only', async (t) => {
  const build = stages[0]!.body.filter((i) => i.op === 'RUN').map((i) => i.args).join(' && ');
  t.match(build, /npm ci\b/, 'npm ci (the lock file, nothing else)');
  t.match(build, /npm run build\b/, 'compiles TypeScript');
  t.match(build, /npm prune --omit=dev\b/, 'drops devDependencies before the copy into the runtime image');
  t.match(build, /npm rebuild better-sqlite3 --build-from-source\b/, 'builds the native SQLite addon explicitly, from source, for the stage\'s Node.js (install scripts are off)');
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

t.test('npm run image builds with the builder present, and says clearly when there is none', async (t) => {
  const run = promisify(execFile);
  const pkg = JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as { scripts: Record<string, string> };
  t.equal(pkg.scripts['image'], 'sh deploy/image/build.sh');
  const script = packagePath('deploy', 'image', 'build.sh');
  // PATH holds only what the script needs besides a builder (node, dirname) and the test's stubs,
  // so the result does not depend on the builders this machine happens to have.
  const dir = t.testdir({ tools: {}, empty: {}, stubs: {} });
  for (const [name, target] of [['node', process.execPath], ['dirname', execFileSync('/bin/sh', ['-c', 'command -v dirname'], { encoding: 'utf8' }).trim()]] as const) symlinkSync(target, join(dir, 'tools', name));
  const runWith = async (bin: string): Promise<{ code: number; stderr: string }> => {
    try {
      const r = await run('/bin/sh', [script], { env: { PATH: `${join(dir, bin)}:${join(dir, 'tools')}`, IMAGE: 'example.test/driftwatch:t' }, timeout: 30_000 });
      return { code: 0, stderr: r.stderr };
    } catch (err) {
      const e = err as { code: number; stderr: string };
      return { code: e.code, stderr: e.stderr };
    }
  };
  const none = await runWith('empty');
  t.not(none.code, 0, 'no builder: exits non-zero');
  t.match(none.stderr, /no OCI image builder found \(docker with a running daemon, podman or buildah\): no image built/, 'and says so');

  const stub = (name: string, body: string): void => {
    writeFileSync(join(dir, 'stubs', name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(dir, 'stubs', name), 0o755);
  };
  // A docker CLI whose daemon is not reachable (`docker info` fails, as on this machine) is no builder.
  stub('docker', 'exit 1');
  const noDaemon = await runWith('stubs');
  t.not(noDaemon.code, 0, 'docker without a daemon and nothing else: exits non-zero');
  t.match(noDaemon.stderr, /docker is installed but its daemon is not reachable/, 'and names the reason');

  // The builder found is called with the Dockerfile, the tag and the repository as context.
  stub('podman', `echo "$@" > ${join(dir, 'podman.args')}`);
  const built = await runWith('stubs');
  t.equal(built.code, 0);
  t.match(built.stderr, /building example\.test\/driftwatch:t with podman/);
  t.equal(readFileSync(join(dir, 'podman.args'), 'utf8').trim(), 'build -f Dockerfile -t example.test/driftwatch:t .');
});
