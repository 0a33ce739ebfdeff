/** The API's resources: client.chat.create(...), client.models.list() / .retrieve(id), client.usage.retrieve(). */

import type { SparkAI } from './client.js';
import type { Stream } from './streaming.js';
import type {
  ChatCompletion,
  ChatCreateParams,
  ChatCreateParamsNonStreaming,
  ChatCreateParamsStreaming,
  DateParam,
  Model,
  ModelList,
  RequestOptions,
  UsageReport,
  UsageRetrieveParams,
} from './types.js';

export const CHAT_PATH = '/v1/chat';
export const MODELS_PATH = '/v1/models';
export const USAGE_PATH = '/v1/usage';

/** The JSON body of POST /v1/chat: the parameters that were given (undefined ones dropped). Fields
 * the types do not know are still sent as given (plain JavaScript callers; the API ignores them). */
export function chatBody(params: ChatCreateParams): Record<string, unknown> {
  if (!params || typeof params !== 'object') throw new TypeError('chat.create() takes one object: { model, messages, ... }.');
  if (!Array.isArray(params.messages)) {
    throw new TypeError("messages must be an array of messages, e.g. [{ role: 'user', content: 'Hello!' }].");
  }
  const body: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && !(name === 'stream' && value === false)) body[name] = value;
  }
  return body;
}

/** The one request layer the resources share (kept off the public surface of SparkAI). */
type Requester = Pick<SparkAI, 'request'>;

/** POST /v1/chat. */
export class Chat {
  constructor(private readonly client: Requester) {}

  /** A chat completion; with `stream: true`, a Stream of chunks from the stream URL. */
  create(params: ChatCreateParamsStreaming, options?: RequestOptions): Promise<Stream>;
  create(params: ChatCreateParamsNonStreaming, options?: RequestOptions): Promise<ChatCompletion>;
  create(params: ChatCreateParams, options?: RequestOptions): Promise<ChatCompletion | Stream>;
  async create(params: ChatCreateParams, options?: RequestOptions): Promise<ChatCompletion | Stream> {
    const body = chatBody(params);
    const stream = params.stream === true;
    const result = await this.client.request<Record<string, unknown>>({
      method: 'POST',
      path: CHAT_PATH,
      body,
      stream,
      idempotent: 'key',
      options,
    });
    return result as ChatCompletion | Stream;
  }
}

function modelPath(id: string): string {
  if (typeof id !== 'string' || !id) throw new TypeError('models.retrieve(id) needs a non-empty model id.');
  return `${MODELS_PATH}/${encodeURIComponent(id)}`;
}

/** GET /v1/models and /v1/models/{id}. */
export class Models {
  constructor(private readonly client: Requester) {}

  async list(options?: RequestOptions): Promise<ModelList> {
    return (await this.client.request<ModelList>({ method: 'GET', path: MODELS_PATH, options })) as ModelList;
  }

  async retrieve(id: string, options?: RequestOptions): Promise<Model> {
    return (await this.client.request<Model>({ method: 'GET', path: modelPath(id), options })) as Model;
  }
}

function day(value: DateParam, name: string): string {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new TypeError(`${name} is an invalid Date.`);
    return value.toISOString().slice(0, 10);
  }
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(value)) {
    throw new TypeError(`${name} must be a Date or a 'YYYY-MM-DD' string, got ${JSON.stringify(value)}.`);
  }
  return value;
}

/** GET /v1/usage: requests, tokens and cost per day, model and key (money as decimal strings). */
export class Usage {
  constructor(private readonly client: Requester) {}

  async retrieve(params: UsageRetrieveParams = {}, options?: RequestOptions): Promise<UsageReport> {
    const query: Record<string, string> = {};
    if (params.start !== undefined) query.start = day(params.start, 'start');
    if (params.end !== undefined) query.end = day(params.end, 'end');
    return (await this.client.request<UsageReport>({ method: 'GET', path: USAGE_PATH, query, options })) as UsageReport;
  }
}
