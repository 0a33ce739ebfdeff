// The client against a fake fetch: configuration, key secrecy, retries, timeouts, abort, streams.
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { afterEach, beforeEach, describe, test } from 'node:test';

import * as sdk from '../../dist/esm/index.js';
import {
  API_KEY, BASE_URL, MESSAGES, STREAM_URL, fakeFetch, jsonResponse, recordingSleep, sseResponse, sseText,
} from './helpers.mjs';

const COMPLETION = {
  id: 'chat-1', object: 'chat.completion', created: 1, model: 'spark-1',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Hi!' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 },
};
const ENV_NAMES = ['SPARKAI_API_KEY', 'SPARKAI_BASE_URL', 'SPARKAI_STREAM_URL'];
let savedEnv;
beforeEach(() => {
  savedEnv = Object.fromEntries(ENV_NAMES.map((n) => [n, process.env[n]]));
  for (const n of ENV_NAMES) delete process.env[n];
});
afterEach(() => {
  for (const [n, v] of Object.entries(savedEnv)) if (v === undefined) delete process.env[n]; else process.env[n] = v;
});

function client(fetch, extra = {}) {
  return new sdk.SparkAI({ apiKey: API_KEY, baseURL: BASE_URL, streamURL: STREAM_URL, fetch, ...extra });
}
const unexpectedSleep = async (ms) => assert.fail(`unexpected sleep ${ms}`);

describe('configuration', () => {
  test('reads SPARKAI_API_KEY, SPARKAI_BASE_URL and SPARKAI_STREAM_URL', async () => {
    process.env.SPARKAI_API_KEY = ` ${API_KEY} `;
    process.env.SPARKAI_BASE_URL = `${BASE_URL}/`;
    process.env.SPARKAI_STREAM_URL = STREAM_URL;
    const { fetch, calls } = fakeFetch([jsonResponse(200, COMPLETION)]);
    const c = new sdk.SparkAI({ fetch });
    assert.equal(c.baseURL, BASE_URL);
    assert.equal(c.streamURL, STREAM_URL);
    await c.chat.create({ model: 'spark-1', messages: MESSAGES });
    assert.equal(calls[0].url, `${BASE_URL}/v1/chat`);
    assert.equal(calls[0].headers.authorization, `Bearer ${API_KEY}`);
  });

  test('an explicit baseURL also serves streams unless streamURL is given', () => {
    process.env.SPARKAI_STREAM_URL = STREAM_URL;
    const c = new sdk.SparkAI({ apiKey: API_KEY, baseURL: BASE_URL });
    assert.equal(c.streamURL, BASE_URL);
    assert.equal(new sdk.SparkAI({ apiKey: API_KEY }).streamURL, STREAM_URL);
    assert.equal(new sdk.SparkAI({ apiKey: API_KEY }).baseURL, sdk.DEFAULT_BASE_URL);
  });

  test('no key, a bad URL or bad maxRetries fail at construction with a clear message', () => {
    assert.throws(() => new sdk.SparkAI(), { name: 'SparkAIError', message: /SPARKAI_API_KEY/ });
    assert.throws(() => new sdk.SparkAI({ apiKey: API_KEY, baseURL: 'ftp://x' }), /http\(s\) URL/);
    assert.throws(() => new sdk.SparkAI({ apiKey: API_KEY, maxRetries: -1 }), /maxRetries/);
  });

  test('the key never shows in JSON.stringify, console.log or String of the client', () => {
    const c = new sdk.SparkAI({ apiKey: API_KEY, baseURL: BASE_URL });
    for (const form of [JSON.stringify(c), inspect(c, { depth: 10, showHidden: true }), String(c), Object.keys(c).join()]) {
      assert.ok(!form.includes(API_KEY), form);
    }
    assert.equal(c.apiKeyHint, 'sk-spark-…0000');
  });

  test('messages must be an array', async () => {
    const c = client(fakeFetch([]).fetch);
    await assert.rejects(c.chat.create({ model: 'spark-1', messages: 'Hi' }), TypeError);
  });

  test('usage.retrieve takes Dates as UTC days and refuses other strings', async () => {
    const { fetch, calls } = fakeFetch([jsonResponse(200, { object: 'usage' })]);
    const c = client(fetch);
    await c.usage.retrieve({ start: new Date(Date.UTC(2026, 0, 1)), end: '2026-01-05' });
    assert.equal(calls[0].url, `${BASE_URL}/v1/usage?start=2026-01-01&end=2026-01-05`);
    await assert.rejects(c.usage.retrieve({ start: '01/02/2026' }), TypeError);
  });

  test('the result JSON is the API body; requestId and rateLimit ride along unseen', async () => {
    const { fetch } = fakeFetch([jsonResponse(200, COMPLETION, { 'x-request-id': 'req_42', 'x-ratelimit-remaining-tokens': '7' })]);
    const completion = await client(fetch).chat.create({ model: 'spark-1', messages: MESSAGES });
    assert.deepEqual(JSON.parse(JSON.stringify(completion)), COMPLETION);
    assert.equal(completion.requestId, 'req_42');
    assert.equal(completion.rateLimit.remainingTokens, 7);
    assert.equal(completion.rateLimit.limitTokens, null);
  });

  test('a 200 that is not a JSON object is an APIResponseValidationError', async () => {
    const { fetch } = fakeFetch([new Response('<html>hi</html>', { status: 200, headers: { 'x-request-id': 'req_html' } })]);
    const error = await client(fetch).models.list().catch((e) => e);
    assert.ok(error instanceof sdk.APIResponseValidationError);
    assert.equal(error.requestId, 'req_html');
  });
});

describe('retries', () => {
  test('connection errors are retried with the same Idempotency-Key, then give up with APIConnectionError', async () => {
    const { fetch, calls } = fakeFetch([new TypeError('fetch failed'), new TypeError('fetch failed'), new TypeError('fetch failed')]);
    const { sleep, slept } = recordingSleep();
    const error = await client(fetch, { sleep }).chat.create({ model: 'spark-1', messages: MESSAGES }).catch((e) => e);
    assert.ok(error instanceof sdk.APIConnectionError && !(error instanceof sdk.APITimeoutError));
    assert.equal(calls.length, 3); // the first try and maxRetries = 2
    assert.equal(new Set(calls.map((c) => c.headers['idempotency-key'])).size, 1);
    assert.equal(slept.length, 2);
    assert.ok(slept[0] <= 500 && slept[1] <= 1000, `full-jitter backoff: ${slept}`);
  });

  test('the last status error is thrown once retries are spent', async () => {
    const busy = () => jsonResponse(503, { error: { message: 'busy', type: 'server_error', param: null, code: 'model_unavailable' } }, { 'retry-after': '1' });
    const { fetch, calls } = fakeFetch([busy(), busy()]);
    const { sleep, slept } = recordingSleep();
    await assert.rejects(client(fetch, { sleep, maxRetries: 1 }).chat.create({ model: 'spark-1', messages: MESSAGES }), {
      name: 'InternalServerError', code: 'model_unavailable', status: 503,
    });
    assert.equal(calls.length, 2);
    assert.deepEqual(slept, [1000]);
  });

  test('per-call maxRetries and an HTTP-date retry-after', async () => {
    const when = new Date(Date.now() + 30_000).toUTCString();
    const { fetch, calls } = fakeFetch([jsonResponse(429, { error: { message: 'slow', type: 'requests', code: 'rate_limit_exceeded' } }, { 'retry-after': when }), jsonResponse(200, { object: 'list', data: [] })]);
    const { sleep, slept } = recordingSleep();
    const c = client(fetch, { sleep, maxRetries: 0 });
    await c.models.list({ maxRetries: 1 });
    assert.equal(calls.length, 2);
    assert.ok(slept[0] > 20_000 && slept[0] <= 30_000, `waited ${slept[0]}`);
  });

  test('a caller-chosen Idempotency-Key is sent and reused', async () => {
    const { fetch, calls } = fakeFetch([jsonResponse(500, {}), jsonResponse(200, COMPLETION)]);
    const { sleep } = recordingSleep();
    await client(fetch, { sleep }).chat.create({ model: 'spark-1', messages: MESSAGES }, { idempotencyKey: 'order-7' });
    assert.deepEqual(calls.map((c) => c.headers['idempotency-key']), ['order-7', 'order-7']);
  });

  test('retryDelay: retry-after wins (capped at 60 s); else full jitter under a doubling ceiling', () => {
    assert.equal(sdk.retryDelay(0, 2), 2);
    assert.equal(sdk.retryDelay(5, 600), 60);
    assert.equal(sdk.retryDelay(0, null, () => 1), 0.5);
    assert.equal(sdk.retryDelay(3, null, () => 1), 4);
    assert.equal(sdk.retryDelay(10, null, () => 1), 8);
    assert.equal(sdk.retryDelay(10, null, () => 0), 0);
  });

  test('parseRetryAfter', () => {
    assert.equal(sdk.parseRetryAfter('2'), 2);
    assert.equal(sdk.parseRetryAfter('1.5'), 1.5);
    assert.equal(sdk.parseRetryAfter(''), null);
    assert.equal(sdk.parseRetryAfter('soon'), null);
    assert.equal(sdk.parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT', () => Date.parse('Wed, 21 Oct 2015 07:27:50 GMT')), 10);
    assert.equal(sdk.parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT'), 0); // in the past
  });
});

describe('timeouts and abort', () => {
  // A fetch that answers only when its signal aborts, as a hung server would.
  const hanging = (call) => new Promise((_, reject) => call.signal.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError'))));

  test('a request that outlives `timeout` is an APITimeoutError (retried, then thrown)', async () => {
    const { fetch, calls } = fakeFetch([hanging, hanging]);
    const { sleep } = recordingSleep();
    await assert.rejects(client(fetch, { sleep, timeout: 1, maxRetries: 1 }).models.list(), sdk.APITimeoutError);
    assert.equal(calls.length, 2);
  });

  test('the caller aborting a request throws APIUserAbortError, never retried', async () => {
    const controller = new AbortController();
    const { fetch, calls } = fakeFetch([(call) => {
      queueMicrotask(() => controller.abort());
      return hanging(call);
    }]);
    await assert.rejects(
      client(fetch, { sleep: unexpectedSleep }).chat.create({ model: 'spark-1', messages: MESSAGES }, { signal: controller.signal }),
      sdk.APIUserAbortError,
    );
    assert.equal(calls.length, 1);
  });

  test('an already aborted signal sends nothing', async () => {
    const { fetch, calls } = fakeFetch([]);
    await assert.rejects(client(fetch).models.list({ signal: AbortSignal.abort() }), sdk.APIUserAbortError);
    assert.equal(calls.length, 0);
  });

  test('aborting during a retry wait stops at once', async () => {
    const controller = new AbortController();
    const { fetch, calls } = fakeFetch([jsonResponse(503, {}, { 'retry-after': '30' })]);
    const sleep = (ms, signal) => new Promise((_, reject) => {
      signal.addEventListener('abort', () => reject(new sdk.APIUserAbortError()));
      controller.abort();
    });
    await assert.rejects(client(fetch, { sleep }).models.list({ signal: controller.signal }), sdk.APIUserAbortError);
    assert.equal(calls.length, 1);
  });
});

describe('streams', () => {
  test('stream: true → chunks, textDeltas, finalUsage; sent to the stream URL', async () => {
    const { response } = sseResponse(sseText(['Hel', 'lo']), { headers: { 'x-ratelimit-limit-requests': '90' } });
    const { fetch, calls } = fakeFetch([response]);
    const stream = await client(fetch).chat.create({ model: 'spark-1', messages: MESSAGES, stream: true });
    assert.ok(stream instanceof sdk.Stream);
    assert.equal(calls[0].url, `${STREAM_URL}/v1/chat`);
    assert.equal(stream.rateLimit.limitRequests, 90);
    const texts = [];
    for await (const text of stream.textDeltas()) texts.push(text);
    assert.deepEqual(texts, ['Hel', 'lo']);
    assert.deepEqual(await stream.finalUsage(), { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 });
    const completion = await stream.finalCompletion();
    assert.equal(completion.choices[0].message.content, 'Hello');
    assert.equal(completion.requestId, 'req_stream');
  });

  test('leaving the loop early closes the connection', async () => {
    const { response, fate } = sseResponse(sseText(['a', 'b', 'c']), { pieces: sseText(['a', 'b', 'c']).split('\n\n').map((e) => new TextEncoder().encode(e + '\n\n')) });
    const { fetch } = fakeFetch([response]);
    const stream = await client(fetch).chat.create({ model: 'spark-1', messages: MESSAGES, stream: true });
    for await (const text of stream.textDeltas()) if (text === 'a') break;
    assert.ok(stream.isClosed);
    assert.ok(fate.cancelled, 'the body was cancelled');
    assert.equal(await stream.finalUsage(), null);
  });

  test('aborting the signal mid-stream closes the connection and ends iteration', async () => {
    const controller = new AbortController();
    let release;
    const hold = new Promise((resolve) => { release = resolve; });
    const text = sseText(['one', 'two']);
    const events = text.split('\n\n').filter(Boolean).map((e) => new TextEncoder().encode(e + '\n\n'));
    // two events arrive, then the server holds the stream (as a slow model would)
    const { response, fate } = sseResponse(text, { pieces: events, holdAfter: 2, hold });
    const { fetch } = fakeFetch([response]);
    const stream = await client(fetch).chat.create({ model: 'spark-1', messages: MESSAGES, stream: true }, { signal: controller.signal });
    const seen = [];
    for await (const chunk of stream) {
      seen.push(chunk.choices[0].delta.content);
      if (seen.length === 2) controller.abort();
    }
    release();
    assert.deepEqual(seen, ['', 'one']);
    assert.ok(stream.isClosed && fate.cancelled);
  });

  test('a stream is never retried once it has started: a broken connection is an APIConnectionError', async () => {
    const text = sseText(['x'], { done: false });
    const { response } = sseResponse(text, { error: new TypeError('terminated') });
    const { fetch, calls } = fakeFetch([response]);
    const stream = await client(fetch, { sleep: unexpectedSleep }).chat.create({ model: 'spark-1', messages: MESSAGES, stream: true });
    const error = await (async () => { for await (const _ of stream); })().catch((e) => e);
    assert.ok(error instanceof sdk.APIConnectionError, String(error));
    assert.equal(calls.length, 1);
  });

  test('an error status before the stream starts is retried like any other', async () => {
    const { response } = sseResponse(sseText(['ok']));
    const { fetch, calls } = fakeFetch([jsonResponse(503, {}, { 'retry-after': '1' }), response]);
    const { sleep, slept } = recordingSleep();
    const stream = await client(fetch, { sleep }).chat.create({ model: 'spark-1', messages: MESSAGES, stream: true });
    assert.equal((await stream.finalCompletion()).choices[0].message.content, 'ok');
    assert.equal(calls.length, 2);
    assert.deepEqual(slept, [1000]);
    assert.equal(calls[0].headers['idempotency-key'], calls[1].headers['idempotency-key']);
  });

  test('no bytes for `timeout` ms mid-stream is an APITimeoutError', async () => {
    const text = sseText(['x']);
    const first = new TextEncoder().encode(text.split('\n\n')[0] + '\n\n');
    const { response, fate } = sseResponse(text, { pieces: [first], holdAfter: 1, hold: new Promise(() => {}) });
    const { fetch } = fakeFetch([response]);
    const stream = await client(fetch, { timeout: 5 }).chat.create({ model: 'spark-1', messages: MESSAGES, stream: true });
    const seen = [];
    const error = await (async () => { for await (const c of stream) seen.push(c); })().catch((e) => e);
    assert.equal(seen.length, 1);
    assert.ok(error instanceof sdk.APITimeoutError, String(error));
    assert.ok(stream.isClosed);
    assert.equal(fate.reads, 1);
  });

  test('an error event never carries the key, even if the server echoed it', async () => {
    const text = `data: ${JSON.stringify({ error: { message: `bad key ${API_KEY}`, type: 'server_error', code: 'model_error' } })}\n\n`;
    const { fetch } = fakeFetch([sseResponse(text).response]);
    const stream = await client(fetch).chat.create({ model: 'spark-1', messages: MESSAGES, stream: true });
    const error = await stream.finalCompletion().catch((e) => e);
    assert.ok(error instanceof sdk.StreamError);
    for (const form of [error.message, String(error), JSON.stringify(error), inspect(error, { depth: 10 })]) assert.ok(!form.includes(API_KEY), form);
  });
});

test('SSEDecoder: a BOM, comments, id/event fields and a last event without its blank line', () => {
  const decoder = new sdk.SSEDecoder();
  const bytes = new TextEncoder().encode('\ufeff: hi\nevent: error\nid: 7\ndata: {"a":1}\n\ndata: tail');
  const events = [...decoder.feed(bytes.slice(0, 5)), ...decoder.feed(bytes.slice(5)), ...decoder.flush()];
  assert.deepEqual(events, [
    { data: '{"a":1}', event: 'error', id: '7', retry: null },
    { data: 'tail', event: 'message', id: '7', retry: null },
  ]);
});

test('SSEDecoder: only the first U+FEFF is a BOM; U+2028, U+2029, U+0085 and NUL do not end a line', () => {
  const decoder = new sdk.SSEDecoder();
  const bytes = new TextEncoder().encode('\ufeff\ufeffdata: skipped\n\ndata: a\u2028b\u2029c\u0085d\u000be\u0000f\rdata: g\r\n\r\n');
  const events = [...bytes].flatMap((_, i) => decoder.feed(bytes.slice(i, i + 1)));
  events.push(...decoder.flush());
  // '\ufeffdata' is not the field name 'data': that line is ignored, as the spec says
  assert.deepEqual(events.map((e) => e.data), ['a\u2028b\u2029c\u0085d\u000be\u0000f\ng']);
});

test('parseDuration: the API reset formats', () => {
  assert.equal(sdk.parseDuration('20ms'), 0.02);
  assert.equal(sdk.parseDuration('1.5s'), 1.5);
  assert.equal(sdk.parseDuration('6m0s'), 360);
  assert.equal(sdk.parseDuration('7'), 7);
  assert.equal(sdk.parseDuration('soon'), null);
});
