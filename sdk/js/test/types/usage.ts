// Compiled (not run) by test/unit/package.test.mjs: the shipped .d.ts files give users these types.
import SparkAIDefault, {
  SparkAI,
  Stream,
  RateLimitError,
  type ChatCompletion,
  type ChatCompletionChunk,
  type UsageReport,
} from 'sparkaistream';

export async function examples(): Promise<void> {
  const client = new SparkAI({ apiKey: 'sk-spark-x', baseURL: 'http://127.0.0.1:3000', maxRetries: 1, timeout: 5_000 });
  const other: SparkAI = new SparkAIDefault();
  void other;
  const completion: ChatCompletion = await client.chat.create({ model: 'spark-1', messages: [{ role: 'user', content: 'Hi' }] });
  const text: string = completion.choices[0]!.message.content;
  const requestId: string | null = completion.requestId;
  void text;
  void requestId;
  const stream: Stream = await client.chat.create({ model: 'spark-1', messages: [{ role: 'user', content: 'Hi' }], stream: true });
  for await (const chunk of stream) {
    const c: ChatCompletionChunk = chunk;
    void c;
  }
  for await (const delta of stream.textDeltas()) {
    const d: string = delta;
    void d;
  }
  const usage = await stream.finalUsage();
  const total: number | undefined = usage?.total_tokens;
  void total;
  const report: UsageReport = await client.usage.retrieve({ start: new Date(), end: '2026-01-31' });
  const cost: string = report.totals.cost_usd;
  void cost;
  const models = await client.models.list({ signal: AbortSignal.timeout(1000) });
  void models.data.map((m) => m.pricing.per_1k_tokens_usd);
  try {
    await client.chat.create({ model: 'spark-1', messages: [] }, { idempotencyKey: 'k' });
  } catch (error) {
    if (error instanceof RateLimitError) {
      const after: number | null = error.retryAfter;
      const code: string | null = error.code;
      void after;
      void code;
    }
  }
  // @ts-expect-error a buffered answer is not a stream
  await client.chat.create({ model: 'spark-1', messages: [] }).then((c) => c.textDeltas());
  // @ts-expect-error parameters are typed: a misspelt one is an error, not silently sent
  await client.chat.create({ model: 'spark-1', messages: [], max_token: 5 });
  // @ts-expect-error roles are typed
  await client.chat.create({ model: 'spark-1', messages: [{ role: 'robot', content: 'x' }] });
}
