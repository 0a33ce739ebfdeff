<?php

declare(strict_types=1);

namespace SparkAI\Type;

/** Token counts of one answer. */
final class Usage
{
    public function __construct(
        public readonly int $promptTokens,
        public readonly int $completionTokens,
        public readonly int $totalTokens,
    ) {
    }

    public static function fromArray(array $data): self
    {
        return new self(Data::int($data, 'prompt_tokens'), Data::int($data, 'completion_tokens'), Data::int($data, 'total_tokens'));
    }

    /** @return array{prompt_tokens: int, completion_tokens: int, total_tokens: int} */
    public function toArray(): array
    {
        return ['prompt_tokens' => $this->promptTokens, 'completion_tokens' => $this->completionTokens, 'total_tokens' => $this->totalTokens];
    }
}
