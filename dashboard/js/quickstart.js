// Copy-paste examples with this deployment's real URLs; the key comes from the environment.
import { loadConfig } from './config.js';
import { $ } from './dom.js';

const BODY = '{"model": "spark-1", "messages": [{"role": "user", "content": "Hello!"}]}';

export async function renderQuickstart() {
  const config = await loadConfig();
  const base = config.apiBaseUrl.replace(/\/$/, '');
  const stream = config.streamUrl.replace(/\/$/, '');
  $('qs-base').textContent = base;
  $('qs-stream').textContent = stream;
  $('qs-curl').textContent = [
    `curl ${base}/v1/chat \\`,
    '  -H "Content-Type: application/json" \\',
    '  -H "Authorization: Bearer $SPARKAI_API_KEY" \\',
    `  -d '${BODY}'`,
    '',
    '# streamed as the model writes (server-sent events):',
    `curl -N ${stream}/v1/chat \\`,
    '  -H "Content-Type: application/json" \\',
    '  -H "Authorization: Bearer $SPARKAI_API_KEY" \\',
    `  -d '${BODY.replace(/}$/, ', "stream": true}')}'`,
  ].join('\n');
  $('qs-python').textContent = [
    'import os',
    'import requests',
    '',
    'response = requests.post(',
    `    "${base}/v1/chat",`,
    '    headers={"Authorization": f"Bearer {os.environ[\'SPARKAI_API_KEY\']}"},',
    '    json={"model": "spark-1", "messages": [{"role": "user", "content": "Hello!"}]},',
    '    timeout=60,',
    ')',
    'print(response.json()["choices"][0]["message"]["content"])',
  ].join('\n');
  $('qs-js').textContent = [
    `const response = await fetch('${base}/v1/chat', {`,
    "  method: 'POST',",
    "  headers: { 'Authorization': `Bearer ${process.env.SPARKAI_API_KEY}`, 'Content-Type': 'application/json' },",
    "  body: JSON.stringify({ model: 'spark-1', messages: [{ role: 'user', content: 'Hello!' }] }),",
    '});',
    'console.log((await response.json()).choices[0].message.content);',
  ].join('\n');
  // Structured output: OpenAI's response_format json_schema shape, strict, parsed by the caller.
  $('qs-structured').textContent = [
    'import json',
    'import os',
    'import requests',
    '',
    'schema = {',
    '    "type": "object",',
    '    "properties": {',
    '        "city": {"type": "string"},',
    '        "country": {"type": "string"},',
    '        "landmarks": {"type": "array", "items": {"type": "string"}},',
    '    },',
    '    "required": ["city", "country", "landmarks"],',
    '    "additionalProperties": False,',
    '}',
    'response = requests.post(',
    `    "${base}/v1/chat",`,
    '    headers={"Authorization": f"Bearer {os.environ[\'SPARKAI_API_KEY\']}"},',
    '    json={',
    '        "model": "spark-1",',
    '        "messages": [{"role": "user", "content": "Tell me about Lyon."}],',
    '        "response_format": {',
    '            "type": "json_schema",',
    '            "json_schema": {"name": "City", "schema": schema, "strict": True},',
    '        },',
    '    },',
    '    timeout=60,',
    ')',
    'city = json.loads(response.json()["choices"][0]["message"]["content"])',
    'print(city["city"], city["country"], city["landmarks"])',
  ].join('\n');
}
