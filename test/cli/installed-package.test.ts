/**
 * The CLI as users get it: `npm pack` the project, install the tarball into an empty directory,
 * and run the bin through the links npm makes (`npx driftwatch`, `node_modules/.bin/driftwatch`,
 * a symlink into the package). Every command and subcommand answers `--help`.
 *
 * The install uses `--ignore-scripts`: the one install script (better-sqlite3's native build)
 * compiles for minutes without prebuilt binaries, and neither `--version` nor `--help` opens a
 * database. Bin links are made by npm itself, not by scripts, so they are what a real install
 * makes.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Command } from 'commander';
import { buildProgram } from '../../cli/main.js';
import { packagePath } from '../../common/paths.js';

const run = promisify(execFile);
// Packing (a TypeScript build) and installing ~250 packages from the npm cache take most of a
// minute alone, and each of the ~35 `--help` runs starts the installed bin (seconds each at a load
// of 10+ on two cores): the whole file took 326 s under load once, so it gets 15 minutes.
t.setTimeout(900_000);
const VERSION = (JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as { version: string }).version;

/** Every command path of the program: [['agent'], ['baseline'], ['baseline', 'diff'], …]. */
function commandPaths(cmd: Command, prefix: string[] = []): string[][] {
  return cmd.commands.flatMap((c) => [[...prefix, c.name()], ...commandPaths(c, [...prefix, c.name()])]);
}

const dir = t.testdir({ install: { 'package.json': JSON.stringify({ name: 'driftwatch-install-test', private: true }) } });
const installDir = join(dir, 'install');
const env = { ...process.env, NODE_OPTIONS: '', npm_config_update_notifier: 'false' };

t.before(async () => {
  // `npm pack` runs `prepare` (the TypeScript build), exactly as `npm publish` would.
  await run('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: packagePath(), env, timeout: 120_000 });
  const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'));
  if (!tarball) throw new Error(`npm pack wrote no tarball into ${dir}`);
  await run('npm', ['install', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', join(dir, tarball)], { cwd: installDir, env, timeout: 180_000 });
});

const bin = (): string => join(installDir, 'node_modules', '.bin', 'driftwatch');

t.test('npx driftwatch --version prints the package version', async (t) => {
  const { stdout } = await run('npx', ['--no-install', 'driftwatch', '--version'], { cwd: installDir, env, timeout: 60_000 });
  t.equal(stdout.trim(), VERSION);
});

t.test('node_modules/.bin/driftwatch --help lists every command', async (t) => {
  const { stdout } = await run(bin(), ['--help'], { cwd: installDir, env, timeout: 60_000 });
  t.match(stdout, /^Usage: driftwatch \[options\] \[command\]/);
  for (const c of buildProgram().commands) t.match(stdout, new RegExp(`^\\s+${c.name()}\\b`, 'm'), `lists ${c.name()}`);
});

t.test('every command and subcommand answers --help', async (t) => {
  const paths = commandPaths(buildProgram());
  t.ok(paths.length >= 8, `${paths.length} commands`);
  for (const path of paths) {
    const { stdout } = await run(bin(), [...path, '--help'], { cwd: installDir, env, timeout: 60_000 });
    t.match(stdout, new RegExp(`^Usage: driftwatch ${path.join(' ')}\\b`), `driftwatch ${path.join(' ')} --help`);
  }
});

t.test('a global-style install (a symlink elsewhere on PATH) runs too', async (t) => {
  // `npm install -g` links <prefix>/bin/driftwatch to the package's dist/cli/main.js; the same
  // shape as .bin, but from an unrelated directory.
  const link = join(dir, 'driftwatch');
  symlinkSync(join(installDir, 'node_modules', 'driftwatch', 'dist', 'cli', 'main.js'), link);
  const { stdout } = await run(process.execPath, [link, '--version'], { cwd: dir, env, timeout: 60_000 });
  t.equal(stdout.trim(), VERSION);
});
