// Compiled (not run) by test/unit/package.test.mjs: the shipped .d.ts files give users these types.
import SparkAIDefault, {
  SparkAI,
  Stream,
  RateLimitError,
  type ChatCompletion,
  type ChatCompletionChunk,
  type MessageParam,
  type ToolCall,
  type ToolParam,
  type UsageReport,
  ToolCallAccumulator,
} from 'sparkaistream';

export async function examples(): Promise<void> {
  const client = new SparkAI({ apiKey: 'sk-spark-x', baseURL: 'http://127.0.0.1:3000', maxRetries: 1, timeout: 5_000 });
  const other: SparkAI = new SparkAIDefault();
  void other;
  const completion: ChatCompletion = await client.chat.create({ model: 'spark-1', messages: [{ role: 'user', content: 'Hi' }] });
  const text: string | null = completion.choices[0]!.message.content;
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
  // Tools and structured outputs, in OpenAI's shapes
  const weather: ToolParam = {
    type: 'function',
    function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } }, strict: true },
  };
  const called = await client.chat.create({
    model: 'spark-1',
    messages: [{ role: 'user', content: 'Weather in Oslo?' }],
    tools: [weather],
    tool_choice: { type: 'function', function: { name: 'get_weather' } },
    parallel_tool_calls: false,
    seed: 1,
    presence_penalty: 0.1,
    frequency_penalty: 0.1,
    max_completion_tokens: 64,
  });
  const calls: ToolCall[] = called.choices[0]!.message.tool_calls ?? [];
  const history: MessageParam[] = [
    { role: 'assistant', content: null, tool_calls: calls },
    { role: 'tool', tool_call_id: calls[0]!.id, content: '{"temperature_c": 4}' },
  ];
  void history;
  await client.chat.create({
    model: 'spark-1',
    messages: [{ role: 'user', content: 'JSON please' }],
    response_format: { type: 'json_schema', json_schema: { name: 'Weather', schema: { type: 'object' }, strict: true } },
  });
  const accumulator = new ToolCallAccumulator();
  for await (const chunk of stream) accumulator.add(chunk);
  const assembled: ToolCall[] = accumulator.toolCalls;
  void assembled;
  // @ts-expect-error a tool message needs the id of the call it answers
  await client.chat.create({ model: 'spark-1', messages: [{ role: 'tool', content: 'x' }] });
  // @ts-expect-error tool_choice is 'none' | 'auto' | 'required' or a named function
  await client.chat.create({ model: 'spark-1', messages: [], tool_choice: 'always' });
  // @ts-expect-error response_format types are OpenAI's
  await client.chat.create({ model: 'spark-1', messages: [], response_format: { type: 'xml' } });
  // @ts-expect-error a buffered answer is not a stream
  await client.chat.create({ model: 'spark-1', messages: [] }).then((c) => c.textDeltas());
  // @ts-expect-error parameters are typed: a misspelt one is an error, not silently sent
  await client.chat.create({ model: 'spark-1', messages: [], max_token: 5 });
  // @ts-expect-error roles are typed
  await client.chat.create({ model: 'spark-1', messages: [{ role: 'robot', content: 'x' }] });
}
