/**
 * Every error the API returns: `{ code, message }` with one HTTP status per code. Clients branch
 * on `code`, never on `message`. docs/api.md lists this table; test/collector/api/errors.test.ts keeps the
 * two in step.
 */
export const API_ERRORS = {
  DW_ERR_UNAUTHENTICATED: { status: 401, description: 'No bearer token, or the token is unknown, revoked or expired.' },
  DW_ERR_FORBIDDEN_ROLE: { status: 403, description: "The token's role does not allow this action." },
  DW_ERR_FORBIDDEN_SCOPE: { status: 403, description: "The target is in a namespace outside the token's scope." },
  DW_ERR_VALIDATION: { status: 400, description: 'A parameter or the body does not match the schema.' },
  DW_ERR_BAD_CURSOR: { status: 400, description: 'The pagination cursor is malformed or belongs to another sort order.' },
  DW_ERR_BAD_BASELINE: { status: 400, description: 'A candidate baseline (YAML or item list) is invalid; the message names line and problem.' },
  DW_ERR_NOT_FOUND: { status: 404, description: 'No such route or resource.' },
  DW_ERR_CONFLICT: { status: 409, description: 'The target changed meanwhile (e.g. approving a version that is no longer current) or the transition is not allowed from its state.' },
  DW_ERR_EXPORT_UNAVAILABLE: { status: 409, description: 'Only an approved baseline can be exported.' },
  DW_ERR_PAYLOAD_TOO_LARGE: { status: 413, description: 'The request body exceeds the limit.' },
  DW_ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, description: 'The body is not application/json.' },
  DW_ERR_RATE_LIMITED: { status: 429, description: 'Too many failed authentications from this address; retry later.' },
  DW_ERR_INTERNAL: { status: 500, description: 'An unexpected error; the collector logged it.' },
  DW_ERR_UNAVAILABLE: { status: 503, description: 'The collector is starting or shutting down, or its storage cannot take writes (disk full); retry later.' },
} as const satisfies Record<string, { status: number; description: string }>;

export type ApiErrorCode = keyof typeof API_ERRORS;

export class ApiError extends Error {
  readonly status: number;
  constructor(
    readonly code: ApiErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
    this.status = API_ERRORS[code].status;
  }

  toJSON(): { code: ApiErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

export function isApiErrorCode(code: string): code is ApiErrorCode {
  return Object.prototype.hasOwnProperty.call(API_ERRORS, code);
}
