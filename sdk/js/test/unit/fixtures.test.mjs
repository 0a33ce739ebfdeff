// The shared fixtures (sdk/fixtures, also replayed by the Python and PHP SDKs) against this SDK.
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { describe, test } from 'node:test';

import * as sdk from '../../dist/esm/index.js';
import {
  API_KEY, BASE_URL, MESSAGES, STREAM_URL, cut, fakeFetch, fixtures, jsonResponse, oneBytePieces,
  recordingSleep, sseResponse,
} from './helpers.mjs';

const KEY_PATTERN = /^sparkai-[0-9a-f]{32}$/;

function client(fetch, extra = {}) {
  return new sdk.SparkAI({ apiKey: API_KEY, baseURL: BASE_URL, streamURL: STREAM_URL, fetch, ...extra });
}

function invoke(c, call, args, options) {
  switch (call) {
    case 'chat.create': return c.chat.create(args, options);
    case 'models.list': return c.models.list(options);
    case 'models.retrieve': return c.models.retrieve(args.id, options);
    case 'usage.retrieve': return c.usage.retrieve(args, options);
    default: throw new Error(`unknown call ${call}`);
  }
}

const requestCases = fixtures('requests.json');
const firstArgs = Object.fromEntries([...requestCases].reverse().map((c) => [c.call, c.args]));
firstArgs['chat.create'] = { model: 'spark-1', messages: MESSAGES };

describe('requests.json', () => {
  for (const fixture of requestCases) {
    test(fixture.name, async () => {
      const answer = fixture.expect.headers.accept === 'text/event-stream'
        ? sseResponse('data: [DONE]\n\n').response
        : jsonResponse(200, fixture.call === 'models.list' ? { object: 'list', data: [] } : { id: 'x' });
      const { fetch, calls } = fakeFetch([answer]);
      const result = await invoke(client(fetch), fixture.call, fixture.args);
      if (result instanceof sdk.Stream) await result.close();
      assert.equal(calls.length, 1);
      const [call] = calls;
      const url = new URL(call.url);
      const expected = fixture.expect;
      assert.equal(call.method, expected.method);
      assert.equal(url.origin + url.pathname.replace(expected.path, ''), expected.url === 'stream' ? STREAM_URL : BASE_URL);
      assert.ok(call.url.split('?')[0].endsWith(expected.path), `${call.url} ends with ${expected.path}`);
      assert.deepEqual(Object.fromEntries(url.searchParams), expected.query);
      assert.deepEqual(call.body, expected.body);
      for (const [name, value] of Object.entries(expected.headers)) assert.equal(call.headers[name], value, name);
      assert.equal(call.headers.authorization, `Bearer ${API_KEY}`);
      if (expected.idempotency_key) assert.match(call.headers['idempotency-key'], KEY_PATTERN);
      else assert.equal(call.headers['idempotency-key'], undefined);
    });
  }

  test('a fresh Idempotency-Key per logical call', async () => {
    const { fetch, calls } = fakeFetch([jsonResponse(200, { id: 'a' }), jsonResponse(200, { id: 'b' })]);
    const c = client(fetch);
    await c.chat.create({ model: 'spark-1', messages: MESSAGES });
    await c.chat.create({ model: 'spark-1', messages: MESSAGES });
    assert.notEqual(calls[0].headers['idempotency-key'], calls[1].headers['idempotency-key']);
  });
});

describe('responses.json', () => {
  for (const fixture of fixtures('responses.json')) {
    test(fixture.name, async () => {
      const { fetch } = fakeFetch([jsonResponse(fixture.status, fixture.body, fixture.headers)]);
      const result = await invoke(client(fetch), fixture.call, firstArgs[fixture.call]);
      const e = fixture.expect;
      // the typed result is the API's JSON, unchanged
      assert.deepEqual(JSON.parse(JSON.stringify(result)), fixture.body);
      if (fixture.call === 'chat.create') {
        assert.equal(result.id, e.id);
        assert.equal(result.model, e.model);
        assert.equal(result.choices[0].message.content, e.text);
        assert.equal(result.choices[0].finish_reason, e.finish_reason);
        assert.deepEqual(result.choices[0].message.tool_calls ?? null, e.tool_calls);
        if ('json' in e) assert.deepEqual(JSON.parse(result.choices[0].message.content), e.json);
        assert.deepEqual(result.usage, e.usage);
        assert.equal(result.requestId, e.request_id);
        const r = e.rate_limit;
        assert.deepEqual(result.rateLimit, {
          limitRequests: r.limit_requests, remainingRequests: r.remaining_requests, resetRequests: r.reset_requests,
          limitTokens: r.limit_tokens, remainingTokens: r.remaining_tokens, resetTokens: r.reset_tokens,
        });
      } else if (fixture.call === 'models.list') {
        assert.deepEqual(result.data.map((m) => m.id), e.ids);
      } else if (fixture.call === 'models.retrieve') {
        assert.equal(result.id, e.id);
        assert.equal(result.context_length, e.context_length);
        assert.equal(result.max_tokens, e.max_tokens);
        assert.equal(result.pricing.per_1k_tokens_usd, e.price_per_1k_tokens_usd);
      } else {
        assert.equal(result.data.length, e.rows);
        assert.deepEqual(result.totals, e.totals);
        assert.equal(result.spend_limit_usd, e.spend_limit_usd);
        assert.equal(result.month_to_date_usd, e.month_to_date_usd);
      }
    });
  }
});

async function replay(fixture, pieces) {
  const { response } = sseResponse(fixture.body, { pieces, headers: fixture.headers });
  const { fetch } = fakeFetch([response]);
  const stream = await client(fetch).chat.create({ model: 'spark-1', messages: MESSAGES, stream: true });
  const chunks = [];
  let error = null;
  try {
    for await (const c of stream) chunks.push(c);
  } catch (e) {
    error = e;
  }
  const usage = await stream.finalUsage();
  const completion = await stream.finalCompletion();
  return { chunks, error, usage, completion, stream };
}

describe('sse.json', () => {
  for (const fixture of fixtures('sse.json')) {
    const bytes = new TextEncoder().encode(fixture.body);
    const ways = [
      ['whole', [bytes]],
      ['one byte per read', oneBytePieces(bytes)],
      ...fixture.splits.map((offsets) => [`split at ${offsets.join(',')}`, cut(bytes, offsets)]),
    ];
    for (const [how, pieces] of ways) {
      test(`${fixture.name}: ${how}`, async () => {
        const { chunks, error, usage, completion, stream } = await replay(fixture, pieces);
        const e = fixture.expect;
        assert.equal(chunks.length, e.chunks);
        assert.equal(completion.choices[0].message.content ?? '', e.text);
        if ('tool_calls' in e) assert.deepEqual(completion.choices[0].message.tool_calls, e.tool_calls);
        assert.equal(completion.choices[0].finish_reason, e.finish_reason);
        assert.deepEqual(usage, e.usage);
        assert.equal(stream.requestId, fixture.headers['x-request-id']);
        assert.ok(stream.isClosed);
        if (e.error === null) {
          assert.equal(error, null);
        } else {
          assert.ok(error instanceof sdk[e.error.class], `${error} is a ${e.error.class}`);
          assert.ok(error instanceof sdk.APIError);
          assert.equal(error.code, e.error.code);
          assert.equal(error.type, e.error.type);
          if (e.error.message !== null) assert.equal(error.message, e.error.message);
          assert.equal(error.requestId, fixture.headers['x-request-id']);
          assert.equal(error.status, undefined);
        }
      });
    }
  }
});

describe('errors.json', () => {
  for (const fixture of fixtures('errors.json')) {
    const answer = () => new Response(fixture.body, { status: fixture.status, headers: fixture.headers });
    const e = fixture.expect;

    test(`${fixture.name}: typed error`, async () => {
      const { fetch, calls } = fakeFetch([answer()]);
      const error = await invoke(client(fetch, { maxRetries: 0 }), fixture.call, firstArgs[fixture.call]).then(
        () => assert.fail('no error'),
        (err) => err,
      );
      assert.equal(calls.length, 1);
      assert.equal(error.constructor.name, e.class);
      assert.ok(error instanceof sdk[e.class]);
      assert.ok(error instanceof sdk.APIStatusError && error instanceof sdk.APIError && error instanceof sdk.SparkAIError);
      assert.equal(error.status, e.status);
      assert.equal(error.type, e.type);
      assert.equal(error.code, e.code);
      assert.equal(error.param, e.param);
      assert.equal(error.message, e.message);
      assert.equal(error.requestId, e.request_id);
      for (const form of [String(error), JSON.stringify(error), inspect(error, { depth: 10 }), error.stack ?? '']) {
        assert.ok(!form.includes(API_KEY), 'the API key leaked into an error');
      }
    });

    test(`${fixture.name}: ${e.retry ? 'retried' : 'not retried'}`, async () => {
      const ok = jsonResponse(200, { id: 'chat-ok', object: 'chat.completion', choices: [] });
      const { fetch, calls } = fakeFetch([answer(), ok]);
      const { sleep, slept } = recordingSleep();
      const result = invoke(client(fetch, { maxRetries: 1, sleep }), 'chat.create', firstArgs['chat.create']);
      if (e.retry) {
        assert.equal((await result).id, 'chat-ok');
        assert.equal(calls.length, 2);
        assert.equal(calls[0].headers['idempotency-key'], calls[1].headers['idempotency-key']);
        assert.match(calls[0].headers['idempotency-key'], KEY_PATTERN);
        assert.equal(slept.length, 1);
        if (e.retry_after !== null) assert.equal(slept[0], e.retry_after * 1000);
        else assert.ok(slept[0] >= 0 && slept[0] <= 500, `jittered first backoff ${slept[0]} ms`);
      } else {
        await assert.rejects(result, sdk[e.class]);
        assert.equal(calls.length, 1);
        assert.deepEqual(slept, []);
      }
    });
  }
});
