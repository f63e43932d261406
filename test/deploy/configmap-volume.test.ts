/**
 * The collector reads declared baselines from the ConfigMap `driftwatch-baselines`, mounted at
 * collector.baselinesDir. The kubelet lays out a ConfigMap volume as symlinks:
 *
 *   <dir>/..2026_01_01_00_00_00.123/shop-api.yaml   the files, in a timestamped directory
 *   <dir>/..data -> ..2026_01_01_00_00_00.123       swapped atomically on every update
 *   <dir>/shop-api.yaml -> ..data/shop-api.yaml     what the program sees
 *
 * so the loader must follow symlinks and ignore the `..` entries.
 */
import t from 'tap';
import { copyFileSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { DeclaredBaselines } from '../../collector/baselines/declared.js';
import { packagePath } from '../../common/paths.js';

function configMapVolume(dir: string, files: Record<string, string>): void {
  const stamp = '..2026_01_01_00_00_00.000000001';
  mkdirSync(join(dir, stamp));
  for (const [name, source] of Object.entries(files)) copyFileSync(source, join(dir, stamp, name));
  symlinkSync(stamp, join(dir, '..data'));
  for (const name of Object.keys(files)) symlinkSync(join('..data', name), join(dir, name));
}

t.test(
  'declared baselines are read from a ConfigMap volume',
  async (t) => {
    const dir = t.testdir();
    configMapVolume(dir, { 'shop-api.yaml': packagePath('baselines', 'examples', 'shop-api.yaml') });
    const declared = new DeclaredBaselines({ dir });
    const result = declared.reload();
    t.same(result.files, ['shop-api.yaml'], 'the baseline file is seen; ..data and the timestamped directory are not');
    t.same(result.errors, []);
    t.ok(result.baselines > 0, 'its baselines are in force');
  },
);
