import type { ErrorObject } from 'ajv';

/**
 * One Ajv error as people read it, shared by the configuration and the declared baselines: the
 * path of the offending key (an unknown key included, so its line can be shown) and the reason.
 */
export function schemaErrorPath(err: ErrorObject): string[] {
  const path = err.instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (err.keyword === 'additionalProperties') path.push(String((err.params as { additionalProperty: string }).additionalProperty));
  return path;
}

export function describeSchemaError(err: ErrorObject): string {
  switch (err.keyword) {
    case 'additionalProperties':
      return 'unknown key';
    case 'required':
      return `${String((err.params as { missingProperty: string }).missingProperty)} is required`;
    case 'enum':
      return `must be one of ${(err.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'const':
      return `must be ${JSON.stringify((err.params as { allowedValue: unknown }).allowedValue)}`;
    case 'pattern':
      return `has an invalid format (${err.message ?? 'pattern'})`;
    default:
      return err.message ?? err.keyword;
  }
}
