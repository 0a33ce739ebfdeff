/** A streamed chat answer: an async iterable of chunks that owns (and closes) its connection. */

import {
  APIConnectionError,
  APITimeoutError,
  StreamError,
  requestIdOf,
  streamErrorFrom,
} from './errors.js';
import { rateLimitFrom, withMeta } from './meta.js';
import { SSEDecoder, type ServerSentEvent } from './sse.js';
import { ToolCallAccumulator } from './tool-calls.js';
import type { ChatCompletion, ChatCompletionChunk, RateLimitInfo, Usage } from './types.js';

const DONE = '[DONE]';

export interface StreamOptions {
  /** Aborting it tears the connection down (the client links the caller's signal to it). */
  controller: AbortController;
  /** The caller's signal: when it aborts, iteration ends quietly. */
  signal?: AbortSignal;
  /** Milliseconds to wait for the next bytes before failing with APITimeoutError. */
  idleTimeout: number | null;
  secret?: string;
}

class Accumulator {
  first: ChatCompletionChunk | null = null;
  parts: string[] = [];
  readonly tools = new ToolCallAccumulator();
  finishReason: string | null = null;
  usage: Usage | null = null;

  add(chunk: ChatCompletionChunk): void {
    this.first ??= chunk;
    this.tools.add(chunk);
    for (const choice of chunk.choices ?? []) {
      if (choice.index !== 0) continue;
      if (typeof choice.delta?.content === 'string') this.parts.push(choice.delta.content);
      if (choice.finish_reason) this.finishReason = choice.finish_reason;
    }
    if (chunk.usage) this.usage = chunk.usage;
  }
}

/**
 * Iterate it once with `for await`, or read just the text with `textDeltas()`. Iteration ends at
 * `data: [DONE]`; an error event mid-stream throws a StreamError. Leaving a loop early, `close()`,
 * or aborting the request's signal closes the connection (the server then stops the model).
 * A stream is never retried once it has started.
 */
export class Stream implements AsyncIterable<ChatCompletionChunk> {
  readonly response: Response;
  readonly requestId: string | null;
  readonly rateLimit: RateLimitInfo | null;
  private readonly options: StreamOptions;
  private reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  private readonly decoder = new SSEDecoder();
  private readonly events: ServerSentEvent[] = [];
  private readonly accumulated = new Accumulator();
  private eof = false;
  private done = false;
  private closed = false;
  private interrupt: (() => void) | null = null;
  private readonly onAbort = (): void => {
    void this.close();
  };

  constructor(response: Response, options: StreamOptions) {
    this.response = response;
    this.options = options;
    this.requestId = requestIdOf(response.headers);
    this.rateLimit = rateLimitFrom(response.headers);
    options.signal?.addEventListener('abort', this.onAbort, { once: true });
    if (options.signal?.aborted) void this.close();
  }

  /** Whether the stream has been closed (read to [DONE], failed, aborted or closed). */
  get isClosed(): boolean {
    return this.closed;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<ChatCompletionChunk, void, undefined> {
    try {
      for (let chunk = await this.next(); chunk; chunk = await this.next()) yield chunk;
    } finally {
      await this.close();
    }
  }

  /** Just the text, piece by piece, as it arrives. */
  async *textDeltas(): AsyncGenerator<string, void, undefined> {
    for await (const chunk of this) {
      for (const choice of chunk.choices ?? []) {
        if (choice.index === 0 && choice.delta?.content) yield choice.delta.content;
      }
    }
  }

  /** Read to the end and return the whole answer (text, tool calls, finish_reason, usage), in
   * the buffered answer's shape: content null when tool calls came without text. */
  async finalCompletion(): Promise<ChatCompletion> {
    await this.drain();
    const acc = this.accumulated;
    const first = acc.first;
    const text = acc.parts.join('');
    const toolCalls = acc.tools.toolCalls;
    const message: ChatCompletion['choices'][number]['message'] = {
      role: 'assistant' as const,
      content: toolCalls.length && !text ? null : text,
    };
    if (toolCalls.length) message.tool_calls = toolCalls;
    return withMeta<ChatCompletion>(
      {
        id: first?.id ?? '',
        object: 'chat.completion' as const,
        created: first?.created ?? 0,
        model: first?.model ?? '',
        choices: [
          {
            index: 0,
            message,
            finish_reason: acc.finishReason,
          },
        ],
        usage: acc.usage,
      },
      this.requestId,
      this.rateLimit,
    );
  }

  /** Read to the end and return the usage chunk's counts (null if the stream was closed early). */
  async finalUsage(): Promise<Usage | null> {
    await this.drain();
    return this.accumulated.usage;
  }

  /** Close the connection. Safe to call more than once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.interrupt?.();
    this.options.signal?.removeEventListener('abort', this.onAbort);
    const reader = this.reader;
    this.reader = null;
    try {
      if (reader) await reader.cancel();
      else await this.response.body?.cancel();
    } catch {
      // already errored or aborted: nothing left to close
    } finally {
      this.options.controller.abort();
    }
  }

  private async drain(): Promise<void> {
    while (await this.next());
  }

  /** The next chunk, or null at the end (or once closed). Closes the stream on any error. */
  private async next(): Promise<ChatCompletionChunk | null> {
    try {
      while (!this.closed) {
        while (this.events.length && !this.done) {
          const chunk = this.handle(this.events.shift()!);
          if (chunk) return chunk;
        }
        if (this.done) break;
        if (this.eof) {
          throw new StreamError('The stream ended before [DONE]: the connection was cut or the server timed out.', {
            code: 'stream_incomplete',
            requestId: this.requestId,
          });
        }
        await this.readMore();
      }
    } catch (error) {
      await this.close();
      throw error;
    }
    await this.close();
    return null;
  }

  private async readMore(): Promise<void> {
    if (!this.reader) {
      if (!this.response.body) {
        this.events.push(...this.decoder.flush());
        this.eof = true;
        return;
      }
      this.reader = this.response.body.getReader();
    }
    // Race the read against the idle timer and close()/abort, so neither depends on the fetch
    // implementation turning an aborted signal into a failed read.
    const read = this.reader.read();
    read.catch(() => undefined); // it may be abandoned below
    let wake!: (why: 'timeout' | 'closed') => void;
    const interrupted = new Promise<'timeout' | 'closed'>((resolve) => {
      wake = resolve;
    });
    this.interrupt = () => wake('closed');
    const idle = this.options.idleTimeout;
    const timer = idle !== null ? setTimeout(() => wake('timeout'), idle) : undefined;
    let outcome: ReadableStreamReadResult<Uint8Array> | 'timeout' | 'closed';
    try {
      outcome = await Promise.race([read, interrupted]);
    } catch (error) {
      if (this.closed || this.options.signal?.aborted) outcome = 'closed';
      else throw new APIConnectionError(`The connection broke while streaming: ${String(error)}`, { cause: error });
    } finally {
      clearTimeout(timer);
      this.interrupt = null;
    }
    if (outcome === 'timeout') throw new APITimeoutError('Timed out waiting for the next streamed event.');
    if (outcome === 'closed') {
      this.done = true; // the caller closed or aborted it: iteration ends quietly
      return;
    }
    if (outcome.done) {
      this.events.push(...this.decoder.flush());
      this.eof = true;
    } else {
      this.events.push(...this.decoder.feed(outcome.value));
    }
  }

  private handle(event: ServerSentEvent): ChatCompletionChunk | null {
    const data = event.data.trim();
    if (data === DONE) {
      this.done = true;
      this.events.length = 0;
      return null;
    }
    if (!data) return null;
    let payload: unknown = null;
    try {
      payload = JSON.parse(data);
    } catch {
      // reported below
    }
    if (!payload || typeof payload !== 'object' || Array.isArray(payload)) {
      if (this.eof && this.events.length === 0) {
        throw new StreamError('The stream ended in the middle of an event, before [DONE].', {
          code: 'stream_incomplete',
          requestId: this.requestId,
        });
      }
      throw new StreamError(`The stream sent an event that is not a JSON object: ${data.slice(0, 200)}`, {
        code: 'invalid_event',
        requestId: this.requestId,
      });
    }
    const record = payload as Record<string, unknown>;
    if (event.event === 'error' || ('error' in record && !('choices' in record))) {
      throw streamErrorFrom(record, this.requestId, this.options.secret);
    }
    const chunk = record as unknown as ChatCompletionChunk;
    this.accumulated.add(chunk);
    return chunk;
  }
}
