import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package root (the folder holding package.json). Sources run both from TypeScript (tests)
 * and compiled under dist/, at different depths, so walk up instead of hard-coding `../..`.
 */
function findPackageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'proto'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('driftwatch: cannot find the package root (package.json beside proto/)');
    dir = parent;
  }
}

export const PACKAGE_ROOT = findPackageRoot();

export function packagePath(...parts: string[]): string {
  return resolve(PACKAGE_ROOT, ...parts);
}

export const PROTO_DIR = packagePath('proto');
