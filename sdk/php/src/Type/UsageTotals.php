<?php

declare(strict_types=1);

namespace SparkAI\Type;

/** Totals of a usage report; $costUsd is an exact decimal string. */
final class UsageTotals
{
    public function __construct(
        public readonly int $requests,
        public readonly int $promptTokens,
        public readonly int $completionTokens,
        public readonly int $totalTokens,
        public readonly string $costUsd,
    ) {
    }

    public static function fromArray(array $data): self
    {
        return new self(
            Data::int($data, 'requests'),
            Data::int($data, 'prompt_tokens'),
            Data::int($data, 'completion_tokens'),
            Data::int($data, 'total_tokens'),
            Data::decimal($data, 'cost_usd') ?? '0',
        );
    }
}
