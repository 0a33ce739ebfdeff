<?php

declare(strict_types=1);

namespace SparkAI\Type;

/** One day x model x key of a usage report; $costUsd is an exact decimal string. */
final class UsageRow
{
    public function __construct(
        public readonly string $date,
        public readonly string $model,
        public readonly string $keyId,
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
            Data::str($data, 'date'),
            Data::str($data, 'model'),
            Data::str($data, 'key_id'),
            Data::int($data, 'requests'),
            Data::int($data, 'prompt_tokens'),
            Data::int($data, 'completion_tokens'),
            Data::int($data, 'total_tokens'),
            Data::decimal($data, 'cost_usd') ?? '0',
        );
    }
}
