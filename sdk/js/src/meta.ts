/** Response metadata (request id, rate-limit headers) attached to results without changing their JSON. */

import type { Headers, RateLimitInfo } from './types.js';

const DURATION_PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|h|m|s)/gy;
const UNITS: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };

/** A reset duration as seconds: "20ms" → 0.02, "1.5s" → 1.5, "6m0s" → 360, "7" → 7. */
export function parseDuration(value: string | null): number | null {
  if (value == null) return null;
  const text = value.trim();
  if (!text) return null;
  if (/^[+-]?(\d+\.?\d*|\.\d+)$/.test(text)) return Math.max(0, Number(text));
  DURATION_PART.lastIndex = 0;
  let total = 0;
  let position = 0;
  for (let match = DURATION_PART.exec(text); match; match = DURATION_PART.exec(text)) {
    total += Number(match[1]) * UNITS[match[2]!]!;
    position = DURATION_PART.lastIndex;
  }
  // Round away float noise (0.667 stays 0.667, not 0.6670000000000001).
  return position === text.length ? Math.round(total * 1e9) / 1e9 : null;
}

function headerInt(headers: Headers, name: string): number | null {
  const value = headers.get(name);
  if (value === null || !/^\s*-?\d+\s*$/.test(value)) return null;
  return Number(value);
}

/** The x-ratelimit-* headers, or null when the answer carries none of them. */
export function rateLimitFrom(headers: Headers): RateLimitInfo | null {
  const info: RateLimitInfo = {
    limitRequests: headerInt(headers, 'x-ratelimit-limit-requests'),
    remainingRequests: headerInt(headers, 'x-ratelimit-remaining-requests'),
    resetRequests: parseDuration(headers.get('x-ratelimit-reset-requests')),
    limitTokens: headerInt(headers, 'x-ratelimit-limit-tokens'),
    remainingTokens: headerInt(headers, 'x-ratelimit-remaining-tokens'),
    resetTokens: parseDuration(headers.get('x-ratelimit-reset-tokens')),
  };
  return Object.values(info).every((v) => v === null) ? null : info;
}

/** Adds requestId (and rateLimit) as non-enumerable properties: JSON.stringify shows the API's body. */
export function withMeta<R>(body: object, requestId: string | null, rateLimit?: RateLimitInfo | null): R {
  Object.defineProperty(body, 'requestId', { value: requestId, enumerable: false });
  if (rateLimit !== undefined) Object.defineProperty(body, 'rateLimit', { value: rateLimit, enumerable: false });
  return body as R;
}
