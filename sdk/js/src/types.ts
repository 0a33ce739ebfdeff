/** Wire types of the SparkAI Stream API (field names exactly as in JSON, like the API docs). */

/** The subset of the Fetch `Headers` interface this SDK reads. */
export interface Headers {
  get(name: string): string | null;
  forEach(callback: (value: string, name: string) => void): void;
}

export type Role = 'system' | 'user' | 'assistant' | 'tool';

export interface TextPart {
  type: 'text';
  text: string;
}

/** A string, or a list of `{type: "text", text}` parts (joined by the server). */
export type MessageContent = string | TextPart[];

export interface SystemMessageParam {
  role: 'system';
  content: MessageContent;
  name?: string;
}

export interface UserMessageParam {
  role: 'user';
  content: MessageContent;
  name?: string;
}

/** A model's earlier answer in the history: text, or the tool calls it made (content null). */
export interface AssistantMessageParam {
  role: 'assistant';
  content?: MessageContent | null;
  name?: string;
  tool_calls?: ToolCall[];
}

/** A tool's result, answering the call whose id is `tool_call_id`. */
export interface ToolMessageParam {
  role: 'tool';
  content: MessageContent;
  tool_call_id: string;
}

export type MessageParam = SystemMessageParam | UserMessageParam | AssistantMessageParam | ToolMessageParam;

/** A function the model may call (OpenAI's FunctionObject). */
export interface FunctionDefinition {
  /** a-z, A-Z, 0-9, _ and -, at most 64 characters. */
  name: string;
  description?: string;
  /** A JSON Schema object; omitted: no parameters. */
  parameters?: Record<string, unknown>;
  /** true: the arguments always parse and validate against `parameters`. */
  strict?: boolean | null;
}

export interface ToolParam {
  type: 'function';
  function: FunctionDefinition;
}

/** Forces a call of this function. */
export interface NamedToolChoice {
  type: 'function';
  function: { name: string };
}

/** 'none': text only; 'auto' (the default with tools): text or calls; 'required': at least one call. */
export type ToolChoice = 'none' | 'auto' | 'required' | NamedToolChoice;

export interface ResponseFormatText {
  type: 'text';
}

export interface ResponseFormatJSONObject {
  type: 'json_object';
}

export interface JSONSchema {
  /** a-z, A-Z, 0-9, _ and -, at most 64 characters. */
  name: string;
  description?: string;
  schema?: Record<string, unknown>;
  /** true: the answer always parses and validates against `schema`. */
  strict?: boolean | null;
}

export interface ResponseFormatJSONSchema {
  type: 'json_schema';
  json_schema: JSONSchema;
}

export type ResponseFormat = ResponseFormatText | ResponseFormatJSONObject | ResponseFormatJSONSchema;

/** A call the model made: `arguments` is the JSON text it wrote (JSON.parse it). */
export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/** A streamed piece of a tool call: the first piece of call `index` has its id and name, later
 * ones pieces of the arguments (ToolCallAccumulator joins them). */
export interface ToolCallDelta {
  index: number;
  id?: string;
  type?: 'function';
  function?: { name?: string; arguments?: string };
}

export interface ChatCreateParamsBase {
  model: 'spark-1' | 'spark-turbo' | 'spark-pro' | (string & {});
  messages: MessageParam[];
  /** 1–4,096 (spark-1, spark-turbo) or 1–8,192 (spark-pro); default 1,024. */
  max_tokens?: number;
  /** The newer name of `max_tokens` (OpenAI's); send one of the two. */
  max_completion_tokens?: number | null;
  /** 0–2, default 0.7. */
  temperature?: number;
  /** (0, 1]. */
  top_p?: number;
  /** Up to 4 stop sequences. */
  stop?: string | string[];
  /** Best-effort determinism: the same seed and parameters should give the same answer. */
  seed?: number | null;
  /** -2.0–2.0. */
  presence_penalty?: number | null;
  /** -2.0–2.0. */
  frequency_penalty?: number | null;
  /** Functions the model may call (at most 128). */
  tools?: ToolParam[];
  tool_choice?: ToolChoice;
  parallel_tool_calls?: boolean;
  response_format?: ResponseFormat;
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
  /** null when the model answered with tool calls only. */
  content: string | null;
  tool_calls?: ToolCall[];
}

export type FinishReason = 'stop' | 'length' | 'tool_calls' | (string & {});

export interface Choice {
  index: number;
  message: AssistantMessage;
  finish_reason: FinishReason | null;
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
  content?: string | null;
  tool_calls?: ToolCallDelta[];
}

export interface ChunkChoice {
  index: number;
  delta: ChoiceDelta;
  finish_reason: FinishReason | null;
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
