/** Retry policy (the team contract, same as the Python SDK): which failures to retry, how long to wait. */

import { APIConnectionError, APIStatusError, APIUserAbortError, type SparkAIError } from './errors.js';

export const DEFAULT_MAX_RETRIES = 2;
export const INITIAL_DELAY = 0.5; // seconds; the backoff ceiling doubles from here on each attempt
export const MAX_DELAY = 8; // ceiling of the computed (jittered) backoff
export const MAX_RETRY_AFTER = 60; // a server's retry-after is honoured up to this many seconds

const RETRYABLE_STATUSES = new Set([408, 409, 429, 500, 502, 503, 504]);

/** Whether `error` may be retried. A POST is retried only when it carries an Idempotency-Key,
 * so a retried generation is answered from the server's record instead of running (and billing)
 * twice. */
export function isRetryable(error: SparkAIError, idempotent: boolean): boolean {
  if (!idempotent || error instanceof APIUserAbortError) return false;
  if (error instanceof APIStatusError) {
    if (!RETRYABLE_STATUSES.has(error.status)) return false;
    // 409 is retried only while the same key is still running; any other conflict is final.
    if (error.status === 409) return error.code === 'idempotency_key_in_use';
    // A monthly spend limit does not refill in seconds: never retry it.
    if (error.status === 429) return error.code !== 'insufficient_quota' && error.type !== 'insufficient_quota';
    return true;
  }
  return error instanceof APIConnectionError;
}

/** Seconds to wait before retry number `attempt + 1` (attempt counts from 0): the server's
 * retry-after (capped at 60 s), else full jitter: uniform(0, min(8, 0.5 * 2^attempt)). */
export function retryDelay(attempt: number, retryAfter: number | null, random: () => number = Math.random): number {
  if (retryAfter !== null) return Math.min(retryAfter, MAX_RETRY_AFTER);
  const ceiling = Math.min(MAX_DELAY, INITIAL_DELAY * 2 ** Math.min(attempt, 30));
  return random() * ceiling;
}
