<?php

declare(strict_types=1);

namespace SparkAI\Tests\Unit;

use SparkAI\Transport\Body;

/** A body that hands out given pieces and counts how often it was asked (to prove incremental reading). */
final class RecordingBody implements Body
{
    public int $reads = 0;
    public bool $closed = false;

    /** @param list<string|\Throwable> $pieces a Throwable is thrown when its turn comes */
    public function __construct(private array $pieces)
    {
    }

    public function read(): ?string
    {
        if ($this->closed) {
            return null;
        }
        ++$this->reads;
        $piece = array_shift($this->pieces);
        if ($piece instanceof \Throwable) {
            throw $piece;
        }

        return $piece;
    }

    public function close(): void
    {
        $this->closed = true;
    }
}
