/** Wire types of the SparkAI Stream API (field names exactly as in JSON, like the API docs). */

/** The subset of the Fetch `Headers` interface this SDK reads. */
export interface Headers {
  get(name: string): string | null;
  forEach(callback: (value: string, name: string) => void): void;
}

export type Role = 'system' | 'user' | 'assistant';

export interface TextPart {
  type: 'text';
  text: string;
}

export interface MessageParam {
  role: Role;
  /** A string, or a list of `{type: "text", text}` parts (joined by the server). */
  content: string | TextPart[];
  name?: string;
}

export interface ChatCreateParamsBase {
  model: 'spark-1' | 'spark-turbo' | 'spark-pro' | (string & {});
  messages: MessageParam[];
  /** 1–4,096 (spark-1, spark-turbo) or 1–8,192 (spark-pro); default 1,024. */
  max_tokens?: number;
  /** 0–2, default 0.7. */
  temperature?: number;
  /** (0, 1]. */
  top_p?: number;
  /** Up to 4 stop sequences. */
  stop?: string | string[];
  user?: string;
  /** Must be 1 (one choice per request). */
  n?: 1;
  /** /v1/chat always ends a stream with a usage chunk; accepted for OpenAI compatibility. */
  stream_options?: { include_usage?: boolean } | null;
}

export interface ChatCreateParamsNonStreaming extends ChatCreateParamsBase {
  stream?: false;
}

export interface ChatCreateParamsStreaming extends ChatCreateParamsBase {
  stream: true;
}

export type ChatCreateParams = ChatCreateParamsNonStreaming | ChatCreateParamsStreaming;

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** The parsed `x-ratelimit-*` headers of an answer. Reset values are in seconds. */
export interface RateLimitInfo {
  limitRequests: number | null;
  remainingRequests: number | null;
  resetRequests: number | null;
  limitTokens: number | null;
  remainingTokens: number | null;
  resetTokens: number | null;
}

/** Present (not enumerable, so JSON.stringify shows only the API's fields) on every result. */
export interface ResponseMeta {
  /** The `x-request-id` of the answer: quote it when reporting a problem. */
  readonly requestId: string | null;
}

export interface AssistantMessage {
  role: 'assistant';
  content: string;
}

export interface Choice {
  index: number;
  message: AssistantMessage;
  finish_reason: 'stop' | 'length' | (string & {}) | null;
}

export interface ChatCompletion extends ResponseMeta {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: Choice[];
  usage: Usage | null;
  /** The x-ratelimit-* headers of this answer (null when it carried none). */
  readonly rateLimit: RateLimitInfo | null;
}

export interface ChoiceDelta {
  role?: 'assistant';
  content?: string;
}

export interface ChunkChoice {
  index: number;
  delta: ChoiceDelta;
  finish_reason: 'stop' | 'length' | (string & {}) | null;
}

/** One streamed event. The last chunk before [DONE] has no choices and carries `usage`. */
export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: ChunkChoice[];
  usage?: Usage;
}

export interface ModelPricing {
  /** A decimal string ("0.0003"): exact, never a float. */
  per_1k_tokens_usd: string;
}

export interface Model extends ResponseMeta {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
  description: string;
  context_length: number;
  max_tokens: number;
  pricing: ModelPricing;
}

export interface ModelList extends ResponseMeta {
  object: 'list';
  data: Model[];
}

/** `YYYY-MM-DD`, or a Date (its UTC calendar day). */
export type DateParam = string | Date;

export interface UsageRetrieveParams {
  /** First day, inclusive (default: the first day of the current UTC month). */
  start?: DateParam;
  /** Last day, inclusive (default: today, UTC). At most 93 days after `start`. */
  end?: DateParam;
}

export interface UsageTotals {
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  /** Decimal string. */
  cost_usd: string;
}

export interface UsageRow extends UsageTotals {
  date: string;
  model: string;
  key_id: string;
}

export interface UsageReport extends ResponseMeta {
  object: 'usage';
  start: string;
  end: string;
  data: UsageRow[];
  totals: UsageTotals;
  /** Decimal string, or null when the account has no monthly spend limit. */
  spend_limit_usd: string | null;
  /** Decimal string. */
  month_to_date_usd: string;
}

/** Per-call options (the second argument of every method). */
export interface RequestOptions {
  /** Aborts the request; for a stream, closes it (iteration then simply ends). */
  signal?: AbortSignal;
  /** Milliseconds; overrides the client's `timeout` for this call. */
  timeout?: number;
  /** Overrides the client's `maxRetries` for this call. */
  maxRetries?: number;
  /** Extra request headers. */
  headers?: Record<string, string>;
  /** The Idempotency-Key of this logical call (default: a fresh `sparkai-<uuid4 hex>` for chat). */
  idempotencyKey?: string;
}
