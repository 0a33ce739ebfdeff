<?php

declare(strict_types=1);

namespace SparkAI\Type;

/** One entry of a message's tool calls: ['id', 'type' => 'function', 'function' => ['name', 'arguments']]. */
final class ToolCall implements \JsonSerializable
{
    public function __construct(
        public readonly string $id,
        public readonly FunctionCall $function,
        public readonly string $type = 'function',
    ) {
    }

    public static function fromArray(array $data): self
    {
        $function = Data::map($data['function'] ?? null);

        return new self(Data::str($data, 'id'), new FunctionCall(Data::str($function, 'name'), Data::str($function, 'arguments')), Data::str($data, 'type', 'function'));
    }

    /** @return list<self>|null null when the field is absent */
    public static function listFrom(mixed $value): ?array
    {
        return is_array($value) ? array_map(self::fromArray(...), Data::maps($value)) : null;
    }

    /** @return array{id: string, type: string, function: array{name: string, arguments: string}} */
    public function toArray(): array
    {
        return ['id' => $this->id, 'type' => $this->type, 'function' => $this->function->toArray()];
    }

    public function jsonSerialize(): array
    {
        return $this->toArray();
    }
}
