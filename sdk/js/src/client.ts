/** SparkAI: configuration, one HTTP request with retries and timeouts, and the resources. */

import {
  APIConnectionError,
  APIResponseValidationError,
  APIStatusError,
  APITimeoutError,
  APIUserAbortError,
  SparkAIError,
  redact,
  requestIdOf,
  statusErrorFrom,
} from './errors.js';
import { rateLimitFrom, withMeta } from './meta.js';
import { Chat, Models, Usage } from './resources.js';
import { DEFAULT_MAX_RETRIES, isRetryable, retryDelay } from './retry.js';
import { Stream } from './streaming.js';
import type { RequestOptions } from './types.js';
import { VERSION } from './version.js';

export const ENV_API_KEY = 'SPARKAI_API_KEY';
export const ENV_BASE_URL = 'SPARKAI_BASE_URL';
export const ENV_STREAM_URL = 'SPARKAI_STREAM_URL';
export const DEFAULT_BASE_URL = 'https://api.sparkaistream.com';
export const DEFAULT_TIMEOUT = 60_000; // milliseconds

export type Fetch = (input: string, init: RequestInit) => Promise<Response>;

export interface ClientOptions {
  /** Default: the SPARKAI_API_KEY environment variable (Node). */
  apiKey?: string;
  /** Default: SPARKAI_BASE_URL, else https://api.sparkaistream.com. */
  baseURL?: string;
  /** Where `stream: true` chat requests go (a Lambda Function URL). Default: an explicit
   * `baseURL` if given, else SPARKAI_STREAM_URL, else the base URL. */
  streamURL?: string;
  /** Retries after a retryable failure (default 2). */
  maxRetries?: number;
  /** Milliseconds per attempt until the answer's headers (and, for streams, between two reads). Default 60,000. */
  timeout?: number;
  /** A fetch implementation (default: the global fetch). */
  fetch?: Fetch;
  /** Headers sent with every request. */
  defaultHeaders?: Record<string, string>;
  /** How to wait before a retry (tests inject one); milliseconds. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** One API call as the resources describe it. */
export interface APIRequest {
  method: 'GET' | 'POST';
  path: string;
  query?: Record<string, string>;
  body?: Record<string, unknown>;
  stream?: boolean;
  /** Chat calls: retried only under one Idempotency-Key. */
  idempotent?: 'key' | 'safe';
  options?: RequestOptions;
}

function env(name: string): string | undefined {
  const value = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[name];
  return value && value.trim() ? value.trim() : undefined;
}

function normalizeURL(url: string, what: string): string {
  const trimmed = url.trim().replace(/\/+$/, '');
  let scheme = '';
  try {
    scheme = new URL(trimmed).protocol;
  } catch {
    // reported below
  }
  if (scheme !== 'http:' && scheme !== 'https:') throw new SparkAIError(`${what} must be an http(s) URL, got ${JSON.stringify(trimmed)}.`);
  return trimmed;
}

function checkRetries(value: number): number {
  if (!Number.isInteger(value) || value < 0) throw new SparkAIError(`maxRetries must be an integer >= 0, got ${value}.`);
  return value;
}

/** `sparkai-` + 32 hex digits (a UUID4 without dashes), fresh per logical call. */
export function newIdempotencyKey(): string {
  const crypto = (globalThis as { crypto?: Crypto }).crypto;
  if (crypto?.randomUUID) return 'sparkai-' + crypto.randomUUID().replace(/-/g, '');
  const bytes = new Uint8Array(16);
  if (crypto?.getRandomValues) crypto.getRandomValues(bytes);
  else for (let i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256); // Node 18 without the global
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  return 'sparkai-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new APIUserAbortError());
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new APIUserAbortError());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

const IS_NODE = typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === 'string';

export class SparkAI {
  readonly baseURL: string;
  readonly streamURL: string;
  readonly maxRetries: number;
  readonly timeout: number;
  readonly chat: Chat;
  readonly models: Models;
  readonly usage: Usage;
  // Private: never enumerable, so neither JSON.stringify nor console.log shows the key.
  readonly #apiKey: string;
  readonly #fetch: Fetch;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly #defaultHeaders: Record<string, string>;

  constructor(options: ClientOptions = {}) {
    const key = options.apiKey ?? env(ENV_API_KEY);
    if (!key || !key.trim()) {
      throw new SparkAIError(
        `No API key: pass new SparkAI({ apiKey: 'sk-spark-...' }) or set the ${ENV_API_KEY} environment variable.`,
      );
    }
    this.#apiKey = key.trim();
    this.baseURL = normalizeURL(options.baseURL ?? env(ENV_BASE_URL) ?? DEFAULT_BASE_URL, 'baseURL');
    if (options.streamURL) this.streamURL = normalizeURL(options.streamURL, 'streamURL');
    else if (options.baseURL) this.streamURL = this.baseURL; // an explicit baseURL serves streams too
    else this.streamURL = normalizeURL(env(ENV_STREAM_URL) ?? this.baseURL, 'streamURL');
    this.maxRetries = checkRetries(options.maxRetries ?? DEFAULT_MAX_RETRIES);
    this.timeout = options.timeout ?? DEFAULT_TIMEOUT;
    const fetchImpl = options.fetch ?? (globalThis.fetch as Fetch | undefined);
    if (!fetchImpl) throw new SparkAIError('No global fetch: use Node.js 18+ or pass new SparkAI({ fetch }).');
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#sleep = options.sleep ?? defaultSleep;
    this.#defaultHeaders = { ...(options.defaultHeaders ?? {}) };
    this.chat = new Chat(this);
    this.models = new Models(this);
    this.usage = new Usage(this);
  }

  /** The configured key, masked (for logs and debugging). */
  get apiKeyHint(): string {
    return `${this.#apiKey.slice(0, 9)}…${this.#apiKey.slice(-4)}`;
  }

  toJSON(): Record<string, unknown> {
    return { baseURL: this.baseURL, streamURL: this.streamURL, maxRetries: this.maxRetries, timeout: this.timeout };
  }

  /** Send with retries. A successful stream comes back as a Stream (never retried after that);
   * every other answer is read whole and parsed. Error statuses throw typed errors. */
  async request<T>(req: APIRequest): Promise<T | Stream> {
    const options = req.options ?? {};
    const retries = checkRetries(options.maxRetries ?? this.maxRetries);
    const timeout = options.timeout ?? this.timeout;
    const idempotencyKey =
      req.idempotent === 'key' ? (options.idempotencyKey ?? newIdempotencyKey()) : options.idempotencyKey;
    const canRetry = req.method === 'GET' || idempotencyKey !== undefined;
    const url = this.url(req);
    const headers: Record<string, string> = {
      ...this.#defaultHeaders,
      Authorization: `Bearer ${this.#apiKey}`,
      Accept: req.stream ? 'text/event-stream' : 'application/json',
      ...(req.body ? { 'Content-Type': 'application/json' } : {}),
      ...(IS_NODE ? { 'User-Agent': `sparkaistream-js/${VERSION}` } : {}),
      ...(idempotencyKey !== undefined ? { 'Idempotency-Key': idempotencyKey } : {}),
      ...(options.headers ?? {}),
    };
    const body = req.body ? JSON.stringify(req.body) : undefined;
    for (let attempt = 0; ; attempt++) {
      const error = await this.attempt<T>(req, url, headers, body, timeout, options.signal);
      if (!(error instanceof SparkAIError)) return error;
      if (attempt >= retries || !isRetryable(error, canRetry)) throw error;
      const retryAfter = error instanceof APIStatusError ? error.retryAfter : null;
      await this.#sleep(retryDelay(attempt, retryAfter) * 1000, options.signal);
    }
  }

  private url(req: APIRequest): string {
    const base = req.stream ? this.streamURL : this.baseURL;
    const query = req.query && Object.keys(req.query).length ? '?' + new URLSearchParams(req.query).toString() : '';
    return base + req.path + query;
  }

  /** One attempt: its result, or the error (returned, not thrown) to decide on a retry. */
  private async attempt<T>(
    req: APIRequest,
    url: string,
    headers: Record<string, string>,
    body: string | undefined,
    timeout: number,
    signal: AbortSignal | undefined,
  ): Promise<T | Stream | SparkAIError> {
    if (signal?.aborted) throw new APIUserAbortError();
    const controller = new AbortController();
    let timedOut = false;
    const onAbort = (): void => controller.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeout);
    const failed = (error: unknown): SparkAIError => {
      if (signal?.aborted) throw new APIUserAbortError();
      if (timedOut) return new APITimeoutError(`Request timed out after ${timeout} ms.`);
      return new APIConnectionError(`Connection error: ${redact(String(error), this.#apiKey)}`, { cause: error });
    };
    let response: Response;
    let handedOff = false; // a Stream now owns the controller and the caller's signal
    try {
      try {
        response = await this.#fetch(url, { method: req.method, headers, body, signal: controller.signal });
      } catch (error) {
        return failed(error);
      }
      if (req.stream && response.ok) {
        handedOff = true;
        signal?.removeEventListener('abort', onAbort);
        return new Stream(response, { controller, signal, idleTimeout: timeout, secret: this.#apiKey });
      }
      let text: string;
      try {
        text = await response.text();
      } catch (error) {
        return failed(error);
      }
      if (!response.ok) return statusErrorFrom(response.status, response.statusText, response.headers, text, this.#apiKey);
      return this.parse<T>(response, text);
    } finally {
      clearTimeout(timer);
      if (!handedOff) signal?.removeEventListener('abort', onAbort);
    }
  }

  private parse<T>(response: Response, text: string): T {
    let body: unknown = null;
    try {
      body = JSON.parse(text);
    } catch {
      // reported below
    }
    if (!body || typeof body !== 'object' || Array.isArray(body)) {
      throw new APIResponseValidationError(
        `Expected a JSON object from ${new URL(response.url || 'http://x/').pathname}, got: ${text.slice(0, 200)}`,
        { status: response.status, requestId: requestIdOf(response.headers) },
      );
    }
    return withMeta<T>(body, requestIdOf(response.headers), rateLimitFrom(response.headers));
  }
}
