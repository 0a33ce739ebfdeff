// Local tier: the SDK against the running local stack (`python -m sparkai_local --model scripted`).
// tests/local/test_js_sdk.py starts the stack and runs this file with:
//   SPARKAI_BASE_URL, SPARKAI_API_KEY (the Pro demo key), SPARKAI_TEST_SAGEMAKER_URL (the local
//   SageMaker runtime's control API) and SPARKAI_TEST_EXHAUSTED_KEY (an account with no requests left until hours from now).
import assert from 'node:assert/strict';
import { setTimeout as wait } from 'node:timers/promises';
import { beforeEach, test } from 'node:test';

import { AuthenticationError, BadRequestError, NotFoundError, RateLimitError, SparkAI, Stream } from 'sparkaistream';

const SAGEMAKER = process.env.SPARKAI_TEST_SAGEMAKER_URL;
const MESSAGES = [{ role: 'user', content: 'Hello!' }];
const TEXT = "Hello! I'm doing great. How can I help you today?";

async function control(method, path, body) {
  const response = await fetch(`${SAGEMAKER}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  assert.ok(response.ok, `${method} ${path}: ${response.status}`);
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

beforeEach(async () => {
  await control('POST', '/_local/reset');
});

test('buffered completion from the environment configuration', async () => {
  const client = new SparkAI(); // SPARKAI_API_KEY and SPARKAI_BASE_URL
  const completion = await client.chat.create({ model: 'spark-1', messages: MESSAGES });
  assert.equal(completion.object, 'chat.completion');
  assert.equal(completion.choices[0].message.content, TEXT);
  assert.equal(completion.choices[0].finish_reason, 'stop');
  assert.ok(completion.usage.total_tokens > 0);
  assert.match(completion.requestId, /\S/);
  assert.equal(completion.rateLimit.limitRequests, 90); // the Pro demo key
});

test('streamed completion: chunks as they come, text deltas and the final usage', async () => {
  const client = new SparkAI();
  const stream = await client.chat.create({ model: 'spark-turbo', messages: MESSAGES, stream: true });
  assert.ok(stream instanceof Stream);
  let text = '';
  for await (const delta of stream.textDeltas()) text += delta;
  assert.equal(text, TEXT);
  const usage = await stream.finalUsage();
  assert.equal(usage.completion_tokens, 10);
  assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
});

test('aborting mid-stream closes the connection and the model stops', async () => {
  await control('PUT', '/_local/scripts/spark-1', { gate_after: 2 }); // two pieces, then the model waits
  const client = new SparkAI();
  const controller = new AbortController();
  const stream = await client.chat.create({ model: 'spark-1', messages: MESSAGES, stream: true }, { signal: controller.signal });
  const pieces = [];
  for await (const delta of stream.textDeltas()) {
    pieces.push(delta);
    if (pieces.length === 2) controller.abort();
  }
  assert.equal(pieces.join(''), "Hello! I'm");
  assert.ok(stream.isClosed);
  // The model side sees the connection go and stops at the two pieces it was allowed
  // (a blocking read that answers once the stream has ended: no polling).
  const last = await control('GET', '/_local/streams/0/ended');
  assert.ok(last.closed_early && !last.completed, JSON.stringify(last));
  assert.equal(last.chunks_emitted, 2);
});

test('401: AuthenticationError with code and request id', async () => {
  const client = new SparkAI({ apiKey: 'sk-spark-not-a-real-key-000000000000000000', maxRetries: 0 });
  const error = await client.chat.create({ model: 'spark-1', messages: MESSAGES }).catch((e) => e);
  assert.ok(error instanceof AuthenticationError, String(error));
  assert.equal(error.status, 401);
  assert.equal(error.code, 'invalid_api_key');
  assert.match(error.requestId, /\S/);
  assert.ok(!JSON.stringify(error).includes('sk-spark-not-a-real-key'));
});

test('400: BadRequestError naming the parameter', async () => {
  const client = new SparkAI({ maxRetries: 0 });
  const error = await client.chat.create({ model: 'spark-1', messages: [] }).catch((e) => e);
  assert.ok(error instanceof BadRequestError, String(error));
  assert.equal(error.param, 'messages');
  const hot = await client.chat.create({ model: 'spark-1', messages: MESSAGES, temperature: 3 }).catch((e) => e);
  assert.ok(hot instanceof BadRequestError);
  assert.equal(hot.param, 'temperature');
});

test('429: RateLimitError with retry-after for a spent budget', async () => {
  const client = new SparkAI({ apiKey: process.env.SPARKAI_TEST_EXHAUSTED_KEY, maxRetries: 0 });
  const error = await client.chat.create({ model: 'spark-1', messages: MESSAGES }).catch((e) => e);
  assert.ok(error instanceof RateLimitError, String(error));
  assert.equal(error.code, 'rate_limit_exceeded');
  assert.equal(error.type, 'requests');
  assert.equal(error.retryAfter, 60); // its refill is hours away: the most the limiter ever says
});

test('a 503 before the answer is retried (same Idempotency-Key) and succeeds', async () => {
  await control('PUT', '/_local/scripts/spark-1', { invoke_error: { code: 'ServiceUnavailable', count: 1 } });
  const waits = [];
  const client = new SparkAI({ sleep: async (ms) => { waits.push(ms); await wait(ms); } });
  const completion = await client.chat.create({ model: 'spark-1', messages: MESSAGES });
  assert.equal(completion.choices[0].message.content, TEXT);
  assert.equal(waits.length, 1);
  assert.equal((await control('GET', '/_local/stats')).invocations['spark-1'], 2);
});

test('models: list, retrieve, and NotFoundError', async () => {
  const client = new SparkAI({ maxRetries: 0 });
  const list = await client.models.list();
  assert.deepEqual(list.data.map((m) => m.id), ['spark-1', 'spark-turbo', 'spark-pro']);
  const pro = await client.models.retrieve('spark-pro');
  assert.equal(pro.max_tokens, 8192);
  assert.equal(typeof pro.pricing.per_1k_tokens_usd, 'string');
  const missing = await client.models.retrieve('gpt-4').catch((e) => e);
  assert.ok(missing instanceof NotFoundError);
  assert.equal(missing.code, 'model_not_found');
});

test('usage: this month by default, and an explicit range', async () => {
  const client = new SparkAI({ maxRetries: 0 });
  const report = await client.usage.retrieve(); // a 404 here is a failure: the stack serves GET /v1/usage
  assert.equal(report.object, 'usage');
  assert.equal(typeof report.totals.cost_usd, 'string');
  assert.ok(report.totals.requests >= 1, 'the calls above were metered');
  const today = new Date().toISOString().slice(0, 10);
  const ranged = await client.usage.retrieve({ start: today, end: today });
  assert.equal(ranged.start, today);
  assert.equal(ranged.end, today);
  const bad = await client.usage.retrieve({ start: '2026-01-10', end: '2026-01-01' }).catch((e) => e);
  assert.ok(bad instanceof BadRequestError, String(bad));
});
