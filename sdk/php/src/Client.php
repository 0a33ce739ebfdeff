<?php

declare(strict_types=1);

namespace SparkAI;

use SparkAI\Exception\APIException;
use SparkAI\Internal\ErrorFactory;
use SparkAI\Internal\RequestOptions;
use SparkAI\Internal\RetryPolicy;
use SparkAI\Resource\Chat;
use SparkAI\Resource\Models;
use SparkAI\Resource\Usage;
use SparkAI\Transport\CurlTransport;
use SparkAI\Transport\Request;
use SparkAI\Transport\Response;
use SparkAI\Transport\TransportException;
use SparkAI\Transport\TransportInterface;

/**
 * The SparkAI Stream client.
 *
 *     $client = new SparkAI\Client(['api_key' => 'sk-spark-...']); // or SPARKAI_API_KEY
 *     echo $client->chat()->create(['model' => 'spark-1', 'messages' => [...]])->text();
 *
 * Options: api_key, base_url, stream_url (falling back to SPARKAI_API_KEY, SPARKAI_BASE_URL,
 * SPARKAI_STREAM_URL), timeout (seconds per wait, default 60), max_retries (default 2),
 * transport (a TransportInterface, e.g. a fake in tests), sleep (callable(float $seconds), tests).
 */
final class Client
{
    public const VERSION = '0.1.0';
    public const DEFAULT_BASE_URL = 'https://api.sparkaistream.com';
    public const DEFAULT_TIMEOUT = 60.0;

    private const OPTIONS = ['api_key', 'base_url', 'stream_url', 'timeout', 'max_retries', 'transport', 'sleep'];

    public readonly string $baseUrl;
    public readonly string $streamUrl;
    public readonly float $timeout;
    public readonly int $maxRetries;

    private string $apiKey;
    private TransportInterface $transport;
    /** @var callable(float): void */
    private $sleep;
    private ?Chat $chat = null;
    private ?Models $models = null;
    private ?Usage $usage = null;

    /** @param array<string, mixed> $options */
    public function __construct(array $options = [])
    {
        $unknown = array_diff(array_keys($options), self::OPTIONS);
        if ($unknown) {
            throw new \InvalidArgumentException('Unknown option(s): ' . implode(', ', $unknown) . '. Known: ' . implode(', ', self::OPTIONS) . '.');
        }
        $key = $options['api_key'] ?? self::env('SPARKAI_API_KEY');
        if (!is_string($key) || trim($key) === '') {
            throw new APIException("No API key: pass new SparkAI\\Client(['api_key' => 'sk-spark-...']) or set the SPARKAI_API_KEY environment variable.");
        }
        $this->apiKey = trim($key);
        $baseUrl = $options['base_url'] ?? null;
        $this->baseUrl = self::url($baseUrl ?? self::env('SPARKAI_BASE_URL') ?? self::DEFAULT_BASE_URL, 'base_url');
        if (($options['stream_url'] ?? null) !== null) {
            $this->streamUrl = self::url($options['stream_url'], 'stream_url');
        } elseif ($baseUrl !== null) { // an explicit base_url serves streams too unless stream_url is given
            $this->streamUrl = $this->baseUrl;
        } else {
            $this->streamUrl = self::url(self::env('SPARKAI_STREAM_URL') ?? $this->baseUrl, 'stream_url');
        }
        $this->timeout = self::timeout($options['timeout'] ?? self::DEFAULT_TIMEOUT);
        $this->maxRetries = self::retries($options['max_retries'] ?? RetryPolicy::DEFAULT_MAX_RETRIES);
        $transport = $options['transport'] ?? new CurlTransport();
        if (!$transport instanceof TransportInterface) {
            throw new \InvalidArgumentException('transport must implement ' . TransportInterface::class . '.');
        }
        $this->transport = $transport;
        $sleep = $options['sleep'] ?? static function (float $seconds): void {
            usleep((int) round($seconds * 1e6));
        };
        if (!is_callable($sleep)) {
            throw new \InvalidArgumentException('sleep must be callable(float $seconds).');
        }
        $this->sleep = $sleep;
    }

    /** POST /v1/chat: buffered completions and streams. */
    public function chat(): Chat
    {
        return $this->chat ??= new Chat($this);
    }

    /** GET /v1/models, /v1/models/{id}. */
    public function models(): Models
    {
        return $this->models ??= new Models($this);
    }

    /** GET /v1/usage. */
    public function usage(): Usage
    {
        return $this->usage ??= new Usage($this);
    }

    /**
     * Send with retries. A successful streaming answer comes back unread (the caller owns it);
     * every other answer is read completely. Error statuses throw typed exceptions.
     *
     * @internal used by the resources
     */
    public function request(RequestOptions $options): Response
    {
        $retries = $options->maxRetries === null ? $this->maxRetries : self::retries($options->maxRetries);
        $request = $this->buildRequest($options);
        $hasIdempotencyKey = $request->header('Idempotency-Key') !== null;
        for ($attempt = 0; ; ++$attempt) {
            try {
                $response = $this->transport->send($request);
                if ($options->stream && $response->isSuccess()) {
                    return $response;
                }
                $content = $response->content();
                if ($response->isSuccess()) {
                    return $response;
                }
                $error = ErrorFactory::fromResponse($response, $content);
            } catch (TransportException $e) {
                $error = ErrorFactory::fromTransport($e);
            }
            if ($attempt >= $retries || !RetryPolicy::shouldRetry($error, $options->method, $hasIdempotencyKey)) {
                throw $error;
            }
            ($this->sleep)(RetryPolicy::delay($attempt, $error->getRetryAfter()));
        }
    }

    /** @return array<string, mixed> */
    public function __debugInfo(): array
    {
        return [
            'api_key' => '[redacted]',
            'base_url' => $this->baseUrl,
            'stream_url' => $this->streamUrl,
            'timeout' => $this->timeout,
            'max_retries' => $this->maxRetries,
        ];
    }

    /** Serialising a client would write its key somewhere; refuse. */
    public function __serialize(): array
    {
        return $this->__debugInfo();
    }

    public function __unserialize(array $data): void
    {
        throw new \LogicException('A SparkAI\\Client cannot be unserialised; create a new one.');
    }

    private function buildRequest(RequestOptions $options): Request
    {
        $url = ($options->stream ? $this->streamUrl : $this->baseUrl) . $options->path;
        if ($options->query) {
            $url .= '?' . http_build_query($options->query, '', '&', PHP_QUERY_RFC3986);
        }
        $headers = [
            'Authorization' => 'Bearer ' . $this->apiKey,
            'Accept' => $options->stream ? 'text/event-stream' : 'application/json',
            'User-Agent' => 'sparkaistream-php/' . self::VERSION . ' PHP/' . PHP_VERSION,
        ];
        $body = null;
        if ($options->json !== null) {
            $headers['Content-Type'] = 'application/json';
            $body = json_encode($options->json, JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_PRESERVE_ZERO_FRACTION);
        }
        foreach ($options->headers as $name => $value) {
            foreach (array_keys($headers) as $existing) { // one spelling per header
                if (strcasecmp($existing, $name) === 0) {
                    unset($headers[$existing]);
                }
            }
            $headers[$name] = $value;
        }

        return new Request($options->method, $url, $headers, $body, $options->timeout ?? $this->timeout);
    }

    private static function env(string $name): ?string
    {
        $value = getenv($name);

        return is_string($value) && trim($value) !== '' ? trim($value) : null;
    }

    private static function url(mixed $url, string $what): string
    {
        $url = is_string($url) ? rtrim(trim($url), '/') : '';
        $scheme = strtolower((string) parse_url($url, PHP_URL_SCHEME));
        if (!in_array($scheme, ['http', 'https'], true) || (string) parse_url($url, PHP_URL_HOST) === '') {
            throw new \InvalidArgumentException("{$what} must be an http(s) URL, got " . var_export($url, true) . '.');
        }

        return $url;
    }

    /** @internal */
    public static function retries(mixed $value): int
    {
        if (!is_int($value) || $value < 0) {
            throw new \InvalidArgumentException('max_retries must be an int >= 0, got ' . var_export($value, true) . '.');
        }

        return $value;
    }

    /** @internal */
    public static function timeout(mixed $value): float
    {
        if ((!is_int($value) && !is_float($value)) || $value <= 0 || !is_finite((float) $value)) {
            throw new \InvalidArgumentException('timeout must be a number of seconds > 0, got ' . var_export($value, true) . '.');
        }

        return (float) $value;
    }
}
