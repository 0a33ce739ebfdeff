<?php

declare(strict_types=1);

namespace SparkAI\Type;

final class Choice
{
    public function __construct(
        public readonly int $index,
        public readonly ChatMessage $message,
        public readonly ?string $finishReason,
    ) {
    }

    public static function fromArray(array $data): self
    {
        return new self(Data::int($data, 'index'), ChatMessage::fromArray(Data::map($data['message'] ?? null)), Data::optStr($data, 'finish_reason'));
    }
}
