<?php

declare(strict_types=1);

namespace SparkAI\Type;

/**
 * The function a tool call names, and its arguments as the JSON text the model wrote
 * (json_decode($call->function->arguments, true); with a strict tool it always parses and validates).
 */
final class FunctionCall
{
    public function __construct(public readonly string $name, public readonly string $arguments)
    {
    }

    /** @return array{name: string, arguments: string} */
    public function toArray(): array
    {
        return ['name' => $this->name, 'arguments' => $this->arguments];
    }
}
