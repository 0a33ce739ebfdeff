<?php

declare(strict_types=1);

namespace SparkAI\Type;

final class Model
{
    public function __construct(
        public readonly string $id,
        public readonly int $created,
        public readonly string $ownedBy,
        public readonly ?string $description = null,
        public readonly ?int $contextLength = null,
        public readonly ?int $maxTokens = null,
        public readonly ?ModelPricing $pricing = null,
        public readonly string $object = 'model',
        public readonly ?string $requestId = null,
    ) {
    }

    public static function fromArray(array $data, ?string $requestId = null): self
    {
        $pricing = $data['pricing'] ?? null;

        return new self(
            Data::str($data, 'id'),
            Data::int($data, 'created'),
            Data::str($data, 'owned_by'),
            Data::optStr($data, 'description'),
            Data::optInt($data, 'context_length'),
            Data::optInt($data, 'max_tokens'),
            is_array($pricing) ? ModelPricing::fromArray($pricing) : null,
            Data::str($data, 'object', 'model'),
            $requestId,
        );
    }
}
