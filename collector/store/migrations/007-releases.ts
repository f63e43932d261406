import type { Migration } from './index.js';

/**
 * Releases (one baseline generation per image under `carry-forward`):
 * - `image_name`: the image as the workload names it (tag), shown next to the digest;
 * - `carried_from_id`: the generation this one started as a copy of (null: learned from nothing);
 * - `released_at_ms`: event time of the new image's first observation (what "new in this release"
 *   is measured from).
 */
export const m007: Migration = {
  version: 7,
  name: 'releases',
  up: `
ALTER TABLE baselines ADD COLUMN image_name TEXT;
ALTER TABLE baselines ADD COLUMN carried_from_id INTEGER;
ALTER TABLE baselines ADD COLUMN released_at_ms INTEGER;
`,
};
