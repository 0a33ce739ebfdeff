/** Whole tool calls from streamed pieces, the way OpenAI streams them: per call `index`, a first
 * piece with the call's `id` and `function.name`, then `function.arguments` in pieces. */

import type { ChatCompletionChunk, ToolCall } from './types.js';

interface Partial {
  id: string;
  type: 'function';
  name: string;
  arguments: string[];
}

/**
 * Feed it every chunk of a stream (`add`); `toolCalls` are the calls so far, in index order.
 * `stream.finalCompletion()` uses one, so most code needs only that; use it directly to act on
 * calls while still relaying text. An id or name replaces the one before (they arrive whole);
 * argument pieces are joined.
 */
export class ToolCallAccumulator {
  private readonly calls = new Map<number, Partial>();

  constructor(private readonly choiceIndex = 0) {}

  add(chunk: ChatCompletionChunk): void {
    for (const choice of chunk.choices ?? []) {
      if (choice.index !== this.choiceIndex) continue;
      for (const piece of choice.delta?.tool_calls ?? []) {
        let call = this.calls.get(piece.index);
        if (!call) {
          call = { id: '', type: 'function', name: '', arguments: [] };
          this.calls.set(piece.index, call);
        }
        if (piece.id) call.id = piece.id;
        if (piece.function?.name) call.name = piece.function.name;
        if (piece.function?.arguments) call.arguments.push(piece.function.arguments);
      }
    }
  }

  get toolCalls(): ToolCall[] {
    return [...this.calls.entries()]
      .sort(([a], [b]) => a - b)
      .map(([, c]) => ({ id: c.id, type: c.type, function: { name: c.name, arguments: c.arguments.join('') } }));
  }
}
