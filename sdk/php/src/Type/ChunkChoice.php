<?php

declare(strict_types=1);

namespace SparkAI\Type;

final class ChunkChoice
{
    public function __construct(
        public readonly int $index,
        public readonly ChoiceDelta $delta,
        public readonly ?string $finishReason = null,
    ) {
    }

    public static function fromArray(array $data): self
    {
        return new self(Data::int($data, 'index'), ChoiceDelta::fromArray(Data::map($data['delta'] ?? null)), Data::optStr($data, 'finish_reason'));
    }
}
