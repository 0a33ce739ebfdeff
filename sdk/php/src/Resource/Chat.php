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
     * API fields (model, messages, max_tokens, temperature, top_p, stop, user, stream, ...) go
     * into the body as given (null values are left out). SDK options: extra_body (merged into
     * the body), extra_headers, timeout, max_retries (this call only), idempotency_key (default:
     * a fresh "sparkai-<uuid4 hex>" per call, reused by its retries).
     *
     * @param array<string, mixed> $params
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
