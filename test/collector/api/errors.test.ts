import { readFileSync } from 'node:fs';
import t from 'tap';
import { packagePath } from '../../../common/paths.js';
import { API_ERRORS } from '../../../collector/api/errors.js';
import { startHarness } from '../../helpers/api-harness.js';

const docs = readFileSync(packagePath('docs', 'api.md'), 'utf8');

t.test('docs/api.md lists exactly the error table, with the same statuses and meanings', async (t) => {
  const rows = [...docs.matchAll(/^\| `(DW_ERR_[A-Z_]+)` \| (\d{3}) \| (.+) \|$/gm)].map((m) => ({ code: m[1]!, status: Number(m[2]), description: m[3]! }));
  t.same(
    rows.map((r) => r.code),
    Object.keys(API_ERRORS),
    'same codes, same order',
  );
  for (const r of rows) {
    const e = API_ERRORS[r.code as keyof typeof API_ERRORS];
    t.equal(r.status, e.status, `${r.code} status`);
    t.equal(r.description, e.description, `${r.code} description`);
  }
});

t.test('docs/api.md documents every route with its role, and the OpenAPI document lists every error code', async (t) => {
  const h = await startHarness(t);
  const doc = (await h.call('GET', '/api/v1/openapi.json', { token: null })).body as {
    paths: Record<string, Record<string, { 'x-driftwatch-role': string; responses: Record<string, unknown> }>>;
    components: { schemas: { Error: { properties: { code: { enum: string[] } } } } };
  };
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const row = new RegExp(`^\\| \`${method.toUpperCase()} ${path.replace(/[{}]/g, '\\$&')}\` \\| ${op['x-driftwatch-role']} \\|`, 'm');
      t.match(docs, row, `${method.toUpperCase()} ${path} documented as ${op['x-driftwatch-role']}`);
      t.ok(op.responses['200'] && op.responses['500'], `${path} documents its responses`);
    }
  }
  t.same(doc.components.schemas.Error.properties.code.enum, Object.keys(API_ERRORS));
});
