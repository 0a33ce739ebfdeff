<?php

declare(strict_types=1);

namespace SparkAI\Type;

final class ModelPricing
{
    /** @param ?string $per1kTokensUsd an exact decimal string such as "0.0003" (never a float) */
    public function __construct(public readonly ?string $per1kTokensUsd)
    {
    }

    public static function fromArray(array $data): self
    {
        return new self(Data::decimal($data, 'per_1k_tokens_usd'));
    }
}
