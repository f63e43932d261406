import { VERSION } from '../../common/version.js';

type JsonSchema = Record<string, unknown>;

/** What a route says about itself: the OpenAPI document is built from these, so it cannot drift. */
export interface RouteDoc {
  method: 'GET' | 'POST' | 'DELETE';
  /** OpenAPI-style path under /api/v1, e.g. `/deviations/{id}`. */
  path: string;
  summary: string;
  tag: string;
  /** Minimum role (documented as `x-driftwatch-role`); null = public. */
  role: string | null;
  params?: JsonSchema;
  query?: JsonSchema;
  body?: JsonSchema;
  /** Response body content type when it is not JSON (exports). */
  produces?: string;
  /** Description of a successful response body. */
  returns: string;
}

function parametersOf(location: 'path' | 'query', schema: JsonSchema | undefined): JsonSchema[] {
  const props = (schema?.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((schema?.required ?? []) as string[]);
  return Object.entries(props).map(([name, s]) => {
    const { description, ...rest } = s;
    return { name, in: location, required: location === 'path' || required.has(name), ...(description ? { description } : {}), schema: rest };
  });
}

export function buildOpenApi(routes: readonly RouteDoc[], errors: Record<string, { status: number; description: string }>): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const r of routes) {
    const statuses = new Set<number>([400, 500]);
    if (r.role !== null) (statuses.add(401), statuses.add(403));
    if (r.params) statuses.add(404);
    if (r.method !== 'GET') statuses.add(409);
    const responses: Record<string, JsonSchema> = {
      '200': { description: r.returns, content: { [r.produces ?? 'application/json']: { schema: r.produces ? { type: 'string' } : { type: 'object' } } } },
    };
    for (const s of [...statuses].sort()) {
      const codes = Object.entries(errors)
        .filter(([, e]) => e.status === s)
        .map(([c]) => c);
      responses[String(s)] = { description: codes.join(', '), content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
    }
    (paths[r.path] ??= {})[r.method.toLowerCase()] = {
      summary: r.summary,
      tags: [r.tag],
      'x-driftwatch-role': r.role ?? 'public',
      ...(r.role !== null ? { security: [{ bearer: [] }] } : { security: [] }),
      parameters: [...parametersOf('path', r.params), ...parametersOf('query', r.query)],
      ...(r.body ? { requestBody: { required: true, content: { 'application/json': { schema: r.body } } } } : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'driftwatch console API', version: VERSION, description: 'Baselines, deviations, approvals and audit of a driftwatch collector. Live updates: WebSocket /api/v1/stream.' },
    servers: [{ url: '/api/v1' }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'A token from `driftwatch token create` (dw_…).' } },
      schemas: {
        Error: {
          type: 'object',
          required: ['code', 'message'],
          properties: { code: { enum: Object.keys(errors) }, message: { type: 'string' } },
        },
      },
    },
    security: [{ bearer: [] }],
    paths,
  };
}
