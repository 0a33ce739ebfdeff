/**
 * Typed errors, named like the Python SDK's classes. Every error from the API carries `status`,
 * `type`, `code`, `param`, `message` and `requestId`; none ever carries the API key.
 */

import type { Headers as HeadersLike } from './types.js';

// API Gateway answers some errors itself (e.g. 403 "Forbidden"); it names the request differently.
const REQUEST_ID_HEADERS = ['x-request-id', 'x-amzn-requestid', 'apigw-requestid', 'x-amz-apigw-id'];

/** Base class of every error this SDK throws. */
export class SparkAIError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** An error reported by the API: an HTTP error status, or an error event inside a stream. */
export class APIError extends SparkAIError {
  /** HTTP status (undefined for an error event that arrived inside a 200 stream). */
  readonly status: number | undefined;
  readonly type: string | null;
  readonly code: string | null;
  readonly param: string | null;
  readonly requestId: string | null;
  /** The parsed error body (or its text, when it is not JSON). */
  readonly body: unknown;

  constructor(
    message: string,
    fields: {
      status?: number;
      type?: string | null;
      code?: string | null;
      param?: string | null;
      requestId?: string | null;
      body?: unknown;
    } = {},
  ) {
    super(message);
    this.status = fields.status;
    this.type = fields.type ?? null;
    this.code = fields.code ?? null;
    this.param = fields.param ?? null;
    this.requestId = fields.requestId ?? null;
    this.body = fields.body;
  }

  override toString(): string {
    const details: string[] = [];
    if (this.status !== undefined) details.push(`status ${this.status}`);
    if (this.code) details.push(`code ${this.code}`);
    if (this.param) details.push(`param ${this.param}`);
    if (this.requestId) details.push(`request_id ${this.requestId}`);
    return `${this.name}: ${this.message}${details.length ? ` (${details.join(', ')})` : ''}`;
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      message: this.message,
      status: this.status ?? null,
      type: this.type,
      code: this.code,
      param: this.param,
      requestId: this.requestId,
    };
  }
}

/** The API answered with an error status (4xx/5xx). */
export class APIStatusError extends APIError {
  declare readonly status: number;
  /** The response headers (retry-after, x-ratelimit-*, ...), lower-case names. */
  readonly headers: Record<string, string>;

  constructor(
    message: string,
    fields: {
      status: number;
      type?: string | null;
      code?: string | null;
      param?: string | null;
      requestId?: string | null;
      body?: unknown;
      headers?: Record<string, string>;
    },
  ) {
    super(message, fields);
    this.headers = fields.headers ?? {};
  }

  /** Seconds from the `retry-after` header (429 and 503 send it), or null. */
  get retryAfter(): number | null {
    return parseRetryAfter(this.headers['retry-after']);
  }
}

/** 400: an invalid parameter (see `param` and `code`). */
export class BadRequestError extends APIStatusError {}
/** 401: the API key is missing, invalid, revoked or expired. */
export class AuthenticationError extends APIStatusError {}
/** 403: the key may not use this resource. */
export class PermissionDeniedError extends APIStatusError {}
/** 404: unknown route or model. */
export class NotFoundError extends APIStatusError {}
/** 409: e.g. `idempotency_key_in_use` (the same Idempotency-Key is still running). */
export class ConflictError extends APIStatusError {}
/** 413: the request body is too large. */
export class RequestTooLargeError extends APIStatusError {}
/** 422: e.g. `idempotency_key_reused` (the same Idempotency-Key with a different body). */
export class UnprocessableEntityError extends APIStatusError {}
/** 429: a budget is spent; `type` is "requests" or "tokens", or `code` is "insufficient_quota". */
export class RateLimitError extends APIStatusError {}
/** 500 and above: server, model or dependency failure (often transient). */
export class InternalServerError extends APIStatusError {}

/** The stream failed after it started: an error event arrived, or it ended before [DONE]. */
export class StreamError extends APIError {}

/** The API could not be reached, or the connection broke. */
export class APIConnectionError extends SparkAIError {
  constructor(message = 'Connection error.', options?: { cause?: unknown }) {
    super(message);
    if (options?.cause !== undefined) (this as { cause?: unknown }).cause = options.cause;
  }
}

/** The request (or the wait for the next streamed event) timed out. */
export class APITimeoutError extends APIConnectionError {
  constructor(message = 'Request timed out.') {
    super(message);
  }
}

/** The caller's AbortSignal aborted the request. */
export class APIUserAbortError extends SparkAIError {
  constructor(message = 'Request was aborted.') {
    super(message);
  }
}

/** A successful answer whose body is not the JSON this SDK expects. */
export class APIResponseValidationError extends SparkAIError {
  readonly status: number;
  readonly requestId: string | null;

  constructor(message: string, fields: { status: number; requestId?: string | null }) {
    super(message);
    this.status = fields.status;
    this.requestId = fields.requestId ?? null;
  }
}

const BY_STATUS: Record<number, typeof APIStatusError> = {
  400: BadRequestError,
  401: AuthenticationError,
  403: PermissionDeniedError,
  404: NotFoundError,
  409: ConflictError,
  413: RequestTooLargeError,
  422: UnprocessableEntityError,
  429: RateLimitError,
};

export function requestIdOf(headers: HeadersLike): string | null {
  for (const name of REQUEST_ID_HEADERS) {
    const value = headers.get(name);
    if (value) return value;
  }
  return null;
}

/** `retry-after` as seconds: delta-seconds ("2", "1.5") or an HTTP-date; null when absent/bad. */
export function parseRetryAfter(value: string | null | undefined, now: () => number = Date.now): number | null {
  if (value == null) return null;
  const text = value.trim();
  if (!text) return null;
  if (/^[+-]?(\d+\.?\d*|\.\d+)$/.test(text)) return Math.max(0, Number(text));
  const when = Date.parse(text);
  if (Number.isNaN(when) || !/[a-z]/i.test(text)) return null;
  return Math.max(0, (when - now()) / 1000);
}

function str(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

/** The documented {"error": {...}} object, or {} for any other body. */
function errorFields(body: unknown): Record<string, unknown> {
  if (body && typeof body === 'object' && !Array.isArray(body)) {
    const error = (body as Record<string, unknown>).error;
    if (error && typeof error === 'object' && !Array.isArray(error)) return error as Record<string, unknown>;
    if (typeof error === 'string') return { message: error };
    const message = (body as Record<string, unknown>).message;
    if (typeof message === 'string') return { message }; // API Gateway's own {"message": "Forbidden"}
  }
  return {};
}

/** Defence in depth: whatever a server or proxy echoes, the key never reaches an error. */
export function redact(text: string, secret: string | undefined): string {
  return secret && secret.length >= 8 ? text.split(secret).join('sk-spark-***') : text;
}

function redactDeep(value: unknown, secret: string | undefined): unknown {
  if (!secret) return value;
  if (typeof value === 'string') return redact(value, secret);
  if (Array.isArray(value)) return value.map((item) => redactDeep(item, secret));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactDeep(v, secret)]));
  }
  return value;
}

export function headersObject(headers: HeadersLike): Record<string, string> {
  const out: Record<string, string> = {};
  headers.forEach((value, name) => {
    out[name.toLowerCase()] = value;
  });
  return out;
}

/** The typed error for an error answer whose body text has been read. */
export function statusErrorFrom(
  status: number,
  statusText: string,
  headers: HeadersLike,
  text: string,
  secret?: string,
): APIStatusError {
  let body: unknown = text || null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text
  }
  body = redactDeep(body, secret);
  const fields = errorFields(body);
  const message =
    str(fields.message) ??
    (typeof body === 'string' && body.trim() ? body.trim().slice(0, 500) : `HTTP ${status} ${statusText}`.trim());
  const cls = BY_STATUS[status] ?? (status >= 500 ? InternalServerError : APIStatusError);
  return new cls(message, {
    status,
    type: str(fields.type),
    code: str(fields.code),
    param: str(fields.param),
    requestId: requestIdOf(headers),
    headers: headersObject(headers),
    body,
  });
}

export function streamErrorFrom(data: Record<string, unknown>, requestId: string | null, secret?: string): StreamError {
  const clean = redactDeep(data, secret) as Record<string, unknown>;
  const fields = errorFields(clean);
  return new StreamError(str(fields.message) ?? 'The stream failed.', {
    type: str(fields.type),
    code: str(fields.code),
    param: str(fields.param),
    requestId,
    body: clean,
  });
}
