<?php

declare(strict_types=1);

namespace SparkAI\Type;

final class ChoiceDelta
{
    /** @param list<ToolCallDelta>|null $toolCalls */
    public function __construct(
        public readonly ?string $role = null,
        public readonly ?string $content = null,
        public readonly ?array $toolCalls = null,
    ) {
    }

    public static function fromArray(array $data): self
    {
        $calls = $data['tool_calls'] ?? null;

        return new self(
            Data::optStr($data, 'role'),
            Data::optStr($data, 'content'),
            is_array($calls) ? array_map(ToolCallDelta::fromArray(...), Data::maps($calls)) : null,
        );
    }
}
