<?php

declare(strict_types=1);

namespace SparkAI\Type;

/** One streamed event. The last chunk before [DONE] has no choices and carries $usage. */
final class ChatCompletionChunk
{
    /** @param list<ChunkChoice> $choices */
    public function __construct(
        public readonly string $id,
        public readonly int $created,
        public readonly string $model,
        public readonly array $choices,
        public readonly ?Usage $usage = null,
        public readonly string $object = 'chat.completion.chunk',
        private readonly array $raw = [],
    ) {
    }

    public static function fromArray(array $data): self
    {
        $usage = $data['usage'] ?? null;

        return new self(
            Data::str($data, 'id'),
            Data::int($data, 'created'),
            Data::str($data, 'model'),
            array_map(ChunkChoice::fromArray(...), Data::maps($data['choices'] ?? null)),
            is_array($usage) ? Usage::fromArray($usage) : null,
            Data::str($data, 'object', 'chat.completion.chunk'),
            $data,
        );
    }

    /** The first choice's text delta ("" when this chunk has none). */
    public function text(): string
    {
        foreach ($this->choices as $choice) {
            if ($choice->index === 0) {
                return $choice->delta->content ?? '';
            }
        }

        return '';
    }

    public function toArray(): array
    {
        return $this->raw;
    }
}
