// Decodes event streams (text and assembled tool calls) with the built JavaScript SDK (sdk/js/dist), for tests/functional/
// test_sse_any_text.py: one JSON request per stdin line, {"pieces": [base64, ...]} (the body as
// the network reads it), one JSON answer per stdout line, so one process serves a whole run.
// Usage: node decode.mjs path/to/sdk/js/dist/esm/index.js
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';

const sdk = await import(pathToFileURL(process.argv[2]).href);

function body(pieces) {
  let index = 0;
  return new ReadableStream({
    pull(controller) {
      if (index < pieces.length) controller.enqueue(pieces[index++]);
      else controller.close();
    },
  }, { highWaterMark: 0 });
}

async function decode(pieces) {
  const response = new Response(body(pieces.map((p) => new Uint8Array(Buffer.from(p, 'base64')))), {
    status: 200,
    headers: { 'content-type': 'text/event-stream' },
  });
  const client = new sdk.SparkAI({ apiKey: 'sk-spark-x', baseURL: 'http://sdk.test', fetch: async () => response, maxRetries: 0 });
  const deltas = [];
  let finish = null;
  try {
    const stream = await client.chat.create({ model: 'spark-1', messages: [{ role: 'user', content: 'x' }], stream: true });
    for await (const chunk of stream) {
      for (const choice of chunk.choices) {
        deltas.push(choice.delta.content ?? null);
        finish = choice.finish_reason ?? finish;
      }
    }
    const calls = (await stream.finalCompletion()).choices[0].message.tool_calls ?? [];
    return { deltas, finish_reason: finish, error: null, tool_calls: calls.map((c) => [c.id, c.function.name, c.function.arguments]) };
  } catch (error) {
    return { deltas, finish_reason: finish, error: `${error.name}: ${error.message}`, tool_calls: [] };
  }
}

for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
  if (!line) continue;
  process.stdout.write(`${JSON.stringify(await decode(JSON.parse(line).pieces))}\n`);
}
