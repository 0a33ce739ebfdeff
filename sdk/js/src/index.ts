/** Official JavaScript/TypeScript SDK of the SparkAI Stream chat API. */

export { SparkAI, DEFAULT_BASE_URL, DEFAULT_TIMEOUT, newIdempotencyKey } from './client.js';
export type { ClientOptions, Fetch } from './client.js';
export {
  SparkAIError,
  APIError,
  APIStatusError,
  BadRequestError,
  AuthenticationError,
  PermissionDeniedError,
  NotFoundError,
  ConflictError,
  RequestTooLargeError,
  UnprocessableEntityError,
  RateLimitError,
  InternalServerError,
  StreamError,
  APIConnectionError,
  APITimeoutError,
  APIUserAbortError,
  APIResponseValidationError,
  parseRetryAfter,
} from './errors.js';
export { parseDuration } from './meta.js';
export { isRetryable, retryDelay, DEFAULT_MAX_RETRIES, MAX_RETRY_AFTER } from './retry.js';
export { SSEDecoder } from './sse.js';
export type { ServerSentEvent } from './sse.js';
export { Stream } from './streaming.js';
export { ToolCallAccumulator } from './tool-calls.js';
export { Chat, Models, Usage } from './resources.js';
export type * from './types.js';
export { VERSION } from './version.js';

import { SparkAI } from './client.js';
export default SparkAI;
