<?php

declare(strict_types=1);

namespace SparkAI;

use SparkAI\Type\ChatCompletionChunk;
use SparkAI\Type\FunctionCall;
use SparkAI\Type\ToolCall;

/**
 * Whole tool calls from streamed pieces, the way OpenAI streams them: per call index, a first
 * piece with the call's id and function name, then the arguments in pieces. Feed it every chunk
 * (add()); toolCalls() are the calls so far, in index order. Stream::getFinalCompletion() uses
 * one, so most code needs only that. An id or name replaces the one before (they arrive whole);
 * argument pieces are joined.
 */
final class ToolCallAccumulator
{
    /** @var array<int, array{id: string, type: string, name: string, arguments: string}> */
    private array $calls = [];

    public function __construct(private readonly int $choiceIndex = 0)
    {
    }

    public function add(ChatCompletionChunk $chunk): void
    {
        foreach ($chunk->choices as $choice) {
            if ($choice->index !== $this->choiceIndex) {
                continue;
            }
            foreach ($choice->delta->toolCalls ?? [] as $piece) {
                $call = $this->calls[$piece->index] ?? ['id' => '', 'type' => 'function', 'name' => '', 'arguments' => ''];
                if ($piece->id !== null && $piece->id !== '') {
                    $call['id'] = $piece->id;
                }
                if ($piece->type !== null && $piece->type !== '') {
                    $call['type'] = $piece->type;
                }
                if ($piece->name !== null && $piece->name !== '') {
                    $call['name'] = $piece->name;
                }
                $call['arguments'] .= $piece->arguments ?? '';
                $this->calls[$piece->index] = $call;
            }
        }
    }

    /** @return list<ToolCall> */
    public function toolCalls(): array
    {
        $calls = $this->calls;
        ksort($calls);

        return array_values(array_map(
            static fn (array $c): ToolCall => new ToolCall($c['id'], new FunctionCall($c['name'], $c['arguments']), $c['type']),
            $calls,
        ));
    }
}
