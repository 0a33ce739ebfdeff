<?php

// Decodes event streams (text and assembled tool calls) with the PHP SDK (sdk/php), for tests/functional/test_sse_any_text.py:
// one JSON request per stdin line, {"pieces": [base64, ...]} (the body as the network reads it),
// one JSON answer per stdout line, so one process serves a whole run.
// Usage: php decode.php path/to/sdk/php/autoload.php

declare(strict_types=1);

require $argv[1];

use SparkAI\Stream;
use SparkAI\Transport\Body;
use SparkAI\Transport\Response;

final class PiecesBody implements Body
{
    /** @param list<string> $pieces */
    public function __construct(private array $pieces)
    {
    }

    public function read(): ?string
    {
        return array_shift($this->pieces);
    }

    public function close(): void
    {
        $this->pieces = [];
    }
}

/** @param list<string> $pieces */
function decode(array $pieces): array
{
    $deltas = [];
    $finish = null;
    $stream = new Stream(new Response(200, ['content-type' => 'text/event-stream'], new PiecesBody($pieces)));
    try {
        foreach ($stream as $chunk) {
            foreach ($chunk->choices as $choice) {
                $deltas[] = $choice->delta->content;
                $finish = $choice->finishReason ?? $finish;
            }
        }
        $calls = array_map(
            static fn ($c): array => [$c->id, $c->function->name, $c->function->arguments],
            $stream->getFinalCompletion()->choices[0]->message->toolCalls ?? [],
        );
    } catch (\Throwable $e) {
        return ['deltas' => $deltas, 'finish_reason' => $finish, 'error' => get_class($e) . ': ' . $e->getMessage(), 'tool_calls' => []];
    }

    return ['deltas' => $deltas, 'finish_reason' => $finish, 'error' => null, 'tool_calls' => $calls];
}

while (($line = fgets(STDIN)) !== false) {
    $line = rtrim($line, "\n");
    if ($line === '') {
        continue;
    }
    $request = json_decode($line, true, 512, JSON_THROW_ON_ERROR);
    $pieces = array_map(static fn (string $p): string => base64_decode($p, true), $request['pieces']);
    echo json_encode(decode($pieces), JSON_THROW_ON_ERROR), "\n";
    fflush(STDOUT);
}
