// Test helpers: a scripted fake fetch that records every request, Responses whose bodies arrive
// in chosen pieces and record whether they were cancelled, and the shared fixtures.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const API_KEY = 'sk-spark-fixture-key-do-not-leak-0000';
export const BASE_URL = 'https://abc.execute-api.us-east-1.amazonaws.com/live';
export const STREAM_URL = 'https://xyz.lambda-url.us-east-1.on.aws';
export const MESSAGES = [{ role: 'user', content: 'Hi' }];

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'fixtures');
export function fixtures(name) {
  return JSON.parse(readFileSync(join(FIXTURES, name), 'utf8')).cases;
}

/** Bytes cut at ascending offsets: [0:o1], [o1:o2], ..., [on:]. */
export function cut(bytes, offsets) {
  const pieces = [];
  let start = 0;
  for (const offset of offsets) {
    pieces.push(bytes.slice(start, offset));
    start = offset;
  }
  pieces.push(bytes.slice(start));
  return pieces.filter((piece) => piece.length > 0);
}

export function oneBytePieces(bytes) {
  return Array.from(bytes, (_, i) => bytes.slice(i, i + 1));
}

/**
 * A body that hands out `pieces` one read at a time. `hold` (a promise) makes the read after
 * `holdAfter` pieces wait for it; `fate.cancelled` records whether the consumer closed it.
 */
export function pieceBody(pieces, { holdAfter = null, hold = null, error = null } = {}) {
  const fate = { cancelled: false, reads: 0 };
  let index = 0;
  const stream = new ReadableStream({
    async pull(controller) {
      if (holdAfter !== null && index === holdAfter) await hold;
      if (fate.cancelled) return;
      if (index < pieces.length) {
        fate.reads++;
        controller.enqueue(pieces[index++]);
      } else if (error) {
        controller.error(error);
      } else {
        controller.close();
      }
    },
    cancel() {
      fate.cancelled = true;
    },
  }, { highWaterMark: 0 });
  return { stream, fate };
}

export function jsonResponse(status, body, headers = {}) {
  return new Response(typeof body === 'string' ? body : JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', 'x-request-id': 'req_test', ...headers },
  });
}

/** A fake fetch answering from `script` (Responses, Errors to throw, or functions of the call). */
export function fakeFetch(script) {
  const calls = [];
  const queue = [...script];
  const fetch = async (url, init) => {
    const headers = Object.fromEntries(Object.entries(init.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
    const call = { url, method: init.method, headers, body: init.body === undefined ? null : JSON.parse(init.body), signal: init.signal };
    calls.push(call);
    if (!queue.length) throw new Error(`unexpected request ${init.method} ${url}`);
    let next = queue.shift();
    if (typeof next === 'function') next = await next(call);
    if (next instanceof Error) throw next;
    return next;
  };
  return { fetch, calls };
}

/** Records each wait instead of waiting. */
export function recordingSleep() {
  const slept = [];
  const sleep = async (ms) => {
    slept.push(ms);
  };
  return { sleep, slept };
}

export function chunk(delta, finishReason = null) {
  return { id: 'chat-t', object: 'chat.completion.chunk', created: 1, model: 'spark-1', choices: [{ index: 0, delta, finish_reason: finishReason }] };
}

export function sseText(pieces, { done = true, usage = { prompt_tokens: 3, completion_tokens: pieces.length, total_tokens: 3 + pieces.length } } = {}) {
  const events = [chunk({ role: 'assistant', content: '' }), ...pieces.map((p) => chunk({ content: p })), chunk({}, 'stop')];
  if (usage) events.push({ id: 'chat-t', object: 'chat.completion.chunk', created: 1, model: 'spark-1', choices: [], usage });
  return events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join('') + (done ? 'data: [DONE]\n\n' : '');
}

export function sseResponse(text, { pieces = null, holdAfter = null, hold = null, error = null, headers = {} } = {}) {
  const bytes = new TextEncoder().encode(text);
  const { stream, fate } = pieceBody(pieces ?? [bytes], { holdAfter, hold, error });
  const response = new Response(stream, {
    status: 200,
    headers: { 'content-type': 'text/event-stream', 'x-request-id': 'req_stream', ...headers },
  });
  return { response, fate };
}
