<?php

declare(strict_types=1);

namespace SparkAI\Type;

/**
 * A streamed piece of a tool call: the first piece of call $index carries its id and function
 * name, later ones pieces of the arguments (ToolCallAccumulator joins them).
 */
final class ToolCallDelta
{
    public function __construct(
        public readonly int $index,
        public readonly ?string $id = null,
        public readonly ?string $type = null,
        public readonly ?string $name = null,
        public readonly ?string $arguments = null,
    ) {
    }

    public static function fromArray(array $data): self
    {
        $function = Data::map($data['function'] ?? null);

        return new self(Data::int($data, 'index'), Data::optStr($data, 'id'), Data::optStr($data, 'type'), Data::optStr($function, 'name'), Data::optStr($function, 'arguments'));
    }
}
