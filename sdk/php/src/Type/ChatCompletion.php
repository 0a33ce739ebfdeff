<?php

declare(strict_types=1);

namespace SparkAI\Type;

/** A buffered answer of POST /v1/chat. `toArray()` is the JSON exactly as received. */
final class ChatCompletion
{
    /** @param list<Choice> $choices */
    public function __construct(
        public readonly string $id,
        public readonly int $created,
        public readonly string $model,
        public readonly array $choices,
        public readonly ?Usage $usage,
        public readonly string $object = 'chat.completion',
        public readonly ?string $requestId = null,
        public readonly ?RateLimitInfo $rateLimit = null,
        private readonly array $raw = [],
    ) {
    }

    public static function fromArray(array $data, ?string $requestId = null, ?RateLimitInfo $rateLimit = null): self
    {
        $usage = $data['usage'] ?? null;

        return new self(
            Data::str($data, 'id'),
            Data::int($data, 'created'),
            Data::str($data, 'model'),
            array_map(Choice::fromArray(...), Data::maps($data['choices'] ?? null)),
            is_array($usage) ? Usage::fromArray($usage) : null,
            Data::str($data, 'object', 'chat.completion'),
            $requestId,
            $rateLimit,
            $data,
        );
    }

    /** The first choice's text ("" when there is none, or only tool calls). */
    public function text(): string
    {
        return isset($this->choices[0]) ? ($this->choices[0]->message->content ?? '') : '';
    }

    public function toArray(): array
    {
        return $this->raw;
    }
}
