<?php

declare(strict_types=1);

namespace SparkAI\Transport;

/**
 * A body from given pieces: each read() returns the next piece. For fake transports in tests
 * (split a stream anywhere) and for answers that are already in memory.
 */
final class StringBody implements Body
{
    /** @var list<string> */
    private array $pieces;
    private bool $closed = false;

    /** @param string|list<string> $pieces */
    public function __construct(string|array $pieces = [], private readonly ?\Throwable $failAtEnd = null)
    {
        $this->pieces = array_values(array_filter((array) $pieces, static fn (string $p): bool => $p !== ''));
    }

    public function read(): ?string
    {
        if ($this->closed) {
            return null;
        }
        if ($this->pieces) {
            return array_shift($this->pieces);
        }
        if ($this->failAtEnd !== null) {
            throw $this->failAtEnd;
        }

        return null;
    }

    public function close(): void
    {
        $this->closed = true;
        $this->pieces = [];
    }

    public function isClosed(): bool
    {
        return $this->closed;
    }
}
