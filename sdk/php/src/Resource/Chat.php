<?php

declare(strict_types=1);

namespace SparkAI\Resource;

use SparkAI\Client;
use SparkAI\Internal\RequestOptions;
use SparkAI\Stream;
use SparkAI\Type\ChatCompletion;
use SparkAI\Type\ChatMessage;
use SparkAI\Type\RateLimitInfo;
use SparkAI\Internal\ErrorFactory;

/** POST /v1/chat. */
final class Chat
{
    public const PATH = '/v1/chat';

    // Options that steer the SDK rather than go into the body.
    private const CONTROL = ['extra_body', 'extra_headers', 'timeout', 'max_retries', 'idempotency_key'];

    public function __construct(private readonly Client $client)
    {
    }

    /**
     * A chat completion; with 'stream' => true, a Stream of chunks from the stream URL.
     *
     * API fields (model, messages, max_tokens, max_completion_tokens, temperature, top_p, stop,
     * seed, presence_penalty, frequency_penalty, tools, tool_choice, parallel_tool_calls,
     * response_format, user, stream, ...) go into the body as given (null values are left out),
     * in OpenAI's shapes (see the shape below). A JSON Schema's empty object must be an object
     * (`new \stdClass()`): PHP's `[]` is sent as a JSON array. SDK options: extra_body (merged
     * into the body), extra_headers, timeout, max_retries (this call only), idempotency_key
     * (default: a fresh "sparkai-<uuid4 hex>" per call, reused by its retries).
     *
     * @param array{
     *     model: string,
     *     messages: list<ChatMessage|array{role: 'system'|'user'|'assistant'|'tool', content: string|list<array{type: 'text', text: string}>|null, name?: string, tool_calls?: list<array{id: string, type: 'function', function: array{name: string, arguments: string}}>, tool_call_id?: string}>,
     *     max_tokens?: int, max_completion_tokens?: int|null, temperature?: float|int, top_p?: float|int,
     *     stop?: string|list<string>, seed?: int|null, presence_penalty?: float|int|null, frequency_penalty?: float|int|null,
     *     tools?: list<array{type: 'function', function: array{name: string, description?: string, parameters?: array<string, mixed>|object, strict?: bool|null}}>,
     *     tool_choice?: 'none'|'auto'|'required'|array{type: 'function', function: array{name: string}},
     *     parallel_tool_calls?: bool,
     *     response_format?: array{type: 'text'}|array{type: 'json_object'}|array{type: 'json_schema', json_schema: array{name: string, description?: string, schema?: array<string, mixed>|object, strict?: bool|null}},
     *     user?: string, stream?: bool, stream_options?: array{include_usage?: bool}|null,
     *     extra_body?: array<string, mixed>, extra_headers?: array<string, string>, timeout?: float|int, max_retries?: int, idempotency_key?: string,
     * } $params
     * @return ($params is array{stream: true} ? Stream : ChatCompletion)
     */
    public function create(array $params): ChatCompletion|Stream
    {
        $stream = ($params['stream'] ?? false) === true;
        $headers = $params['extra_headers'] ?? [];
        if (!is_array($headers)) {
            throw new \InvalidArgumentException('extra_headers must be an array of name => value.');
        }
        $hasKey = false;
        foreach (array_keys($headers) as $name) {
            $hasKey = $hasKey || strcasecmp((string) $name, 'Idempotency-Key') === 0;
        }
        if (!$hasKey) {
            $headers['Idempotency-Key'] = $params['idempotency_key'] ?? self::idempotencyKey();
        }
        $options = new RequestOptions(
            'POST',
            self::PATH,
            null,
            self::body($params),
            $stream,
            $headers,
            isset($params['timeout']) ? Client::timeout($params['timeout']) : null,
            isset($params['max_retries']) ? Client::retries($params['max_retries']) : null,
        );
        $response = $this->client->request($options);
        if ($stream) {
            return new Stream($response);
        }
        $data = Json::object($response);

        return ChatCompletion::fromArray($data, ErrorFactory::requestId($response->headers), RateLimitInfo::fromHeaders($response->headers));
    }

    /** "sparkai-" + the hex of a random (version 4) UUID. */
    public static function idempotencyKey(): string
    {
        $bytes = random_bytes(16);
        $bytes[6] = chr((ord($bytes[6]) & 0x0F) | 0x40);
        $bytes[8] = chr((ord($bytes[8]) & 0x3F) | 0x80);

        return 'sparkai-' . bin2hex($bytes);
    }

    /**
     * @param array<string, mixed> $params
     * @return array<string, mixed>
     */
    private static function body(array $params): array
    {
        if (!is_string($params['model'] ?? null) || $params['model'] === '') {
            throw new \InvalidArgumentException("'model' is required, e.g. 'spark-1'.");
        }
        $messages = $params['messages'] ?? null;
        if (!is_array($messages) || !array_is_list($messages)) {
            throw new \InvalidArgumentException("'messages' must be a list of messages, e.g. [['role' => 'user', 'content' => 'Hello!']].");
        }
        $body = [];
        foreach ($params as $name => $value) {
            if ($value === null || in_array($name, self::CONTROL, true)) {
                continue;
            }
            $body[$name] = $value;
        }
        $body['messages'] = array_map(static function (mixed $message): array {
            if ($message instanceof ChatMessage) {
                return $message->toArray();
            }
            if (!is_array($message)) {
                throw new \InvalidArgumentException("Each message must be an array like ['role' => 'user', 'content' => 'Hello!'] or a ChatMessage.");
            }

            return $message;
        }, $messages);
        if (($body['stream'] ?? null) !== true) {
            unset($body['stream']); // false is the default; send only what was asked for
        }
        $extra = $params['extra_body'] ?? [];
        if (!is_array($extra)) {
            throw new \InvalidArgumentException('extra_body must be an array.');
        }

        return array_replace($body, $extra);
    }
}
