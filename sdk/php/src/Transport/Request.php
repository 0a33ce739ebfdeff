<?php

declare(strict_types=1);

namespace SparkAI\Transport;

/**
 * One HTTP request. Its headers carry the API key, so it never shows them: var_dump()/print_r()
 * and serialize() (also reached through an exception's stack trace) redact Authorization.
 */
final class Request
{
    /** @var array<string, string> */
    private array $headers;

    /**
     * @param array<string, string> $headers
     * @param float $timeout seconds to connect, and to wait for each next piece of the answer
     */
    public function __construct(
        public readonly string $method,
        public readonly string $url,
        array $headers,
        public readonly ?string $body = null,
        public readonly float $timeout = 60.0,
    ) {
        $this->headers = $headers;
    }

    /** @return array<string, string> */
    public function headers(): array
    {
        return $this->headers;
    }

    /** A header by case-insensitive name, or null. */
    public function header(string $name): ?string
    {
        foreach ($this->headers as $key => $value) {
            if (strcasecmp($key, $name) === 0) {
                return $value;
            }
        }

        return null;
    }

    /** @return array<string, mixed> */
    public function __debugInfo(): array
    {
        return [
            'method' => $this->method,
            'url' => $this->url,
            'headers' => self::redact($this->headers),
            'body' => $this->body,
            'timeout' => $this->timeout,
        ];
    }

    /** @return array<string, mixed> */
    public function __serialize(): array
    {
        return $this->__debugInfo();
    }

    /** @param array<string, mixed> $data */
    public function __unserialize(array $data): void
    {
        $this->method = $data['method'];
        $this->url = $data['url'];
        $this->headers = $data['headers'];
        $this->body = $data['body'];
        $this->timeout = $data['timeout'];
    }

    /**
     * @param array<string, string> $headers
     * @return array<string, string>
     */
    public static function redact(array $headers): array
    {
        foreach ($headers as $name => $value) {
            if (in_array(strtolower($name), ['authorization', 'proxy-authorization'], true)) {
                $headers[$name] = '[redacted]';
            }
        }

        return $headers;
    }
}
