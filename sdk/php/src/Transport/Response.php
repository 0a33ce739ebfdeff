<?php

declare(strict_types=1);

namespace SparkAI\Transport;

/** Status and headers of an answer, and its body to be read incrementally (or all at once). */
final class Response
{
    /** @var array<string, string> */
    public readonly array $headers;
    private ?string $content = null;

    /** @param array<string, string> $headers any case; kept with lower-case names */
    public function __construct(public readonly int $status, array $headers, private readonly Body $body)
    {
        $this->headers = array_change_key_case($headers, CASE_LOWER);
    }

    public function header(string $name): ?string
    {
        return $this->headers[strtolower($name)] ?? null;
    }

    public function isSuccess(): bool
    {
        return $this->status >= 200 && $this->status < 300;
    }

    /** The next bytes of the body, or null at its end. @throws TransportException */
    public function read(): ?string
    {
        return $this->body->read();
    }

    /** The whole (rest of the) body; read once, then remembered. @throws TransportException */
    public function content(): string
    {
        if ($this->content === null) {
            $parts = [];
            try {
                while (($part = $this->body->read()) !== null) {
                    $parts[] = $part;
                }
            } finally {
                $this->body->close();
            }
            $this->content = implode('', $parts);
        }

        return $this->content;
    }

    public function close(): void
    {
        $this->body->close();
    }
}
