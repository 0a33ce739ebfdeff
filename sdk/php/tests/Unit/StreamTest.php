<?php

declare(strict_types=1);

namespace SparkAI\Tests\Unit;

use PHPUnit\Framework\TestCase;
use SparkAI\Client;
use SparkAI\Exception\APIConnectionException;
use SparkAI\Exception\StreamException;
use SparkAI\Stream;
use SparkAI\Transport\Response;
use SparkAI\ToolCallAccumulator;
use SparkAI\Transport\TransportException;
use SparkAI\Type\ChatMessage;

final class StreamTest extends TestCase
{
    private const MESSAGES = [['role' => 'user', 'content' => 'Hello!']];

    private static function event(array $delta, ?string $finish = null): string
    {
        return 'data: ' . json_encode(['id' => 'chat-1', 'object' => 'chat.completion.chunk', 'created' => 1, 'model' => 'spark-1',
            'choices' => [['index' => 0, 'delta' => $delta, 'finish_reason' => $finish]]]) . "\n\n";
    }

    private static function usageEvent(): string
    {
        return 'data: ' . json_encode(['id' => 'chat-1', 'object' => 'chat.completion.chunk', 'created' => 1, 'model' => 'spark-1',
            'choices' => [], 'usage' => ['prompt_tokens' => 4, 'completion_tokens' => 2, 'total_tokens' => 6]]) . "\n\n";
    }

    /** @param list<string|\Throwable> $pieces */
    private static function stream(array $pieces, ?RecordingBody &$body = null, ?FakeTransport &$transport = null): Stream
    {
        $body = new RecordingBody($pieces);
        $transport = (new FakeTransport())->push(new Response(200, ['x-request-id' => 'req_s', 'x-ratelimit-limit-requests' => '90'], $body));
        $client = new Client(['api_key' => 'sk-spark-x', 'base_url' => 'http://api.test', 'transport' => $transport, 'sleep' => static function (): void {
        }]);

        return $client->chat()->create(['model' => 'spark-1', 'messages' => self::MESSAGES, 'stream' => true]);
    }

    public function testChunksAreYieldedAsTheyArriveNotAfterTheWholeBody(): void
    {
        $stream = self::stream([self::event(['role' => 'assistant', 'content' => '']), self::event(['content' => 'Hel']), self::event(['content' => 'lo']), "data: [DONE]\n\n"], $body);
        self::assertSame(0, $body->reads, 'nothing is read before iteration starts');
        $deltas = $stream->textDeltas();
        self::assertSame('Hel', $deltas->current());
        self::assertSame(2, $body->reads, 'the first text was yielded after reading only the pieces that carried it');
        $deltas->next();
        self::assertSame('lo', $deltas->current());
        self::assertSame(3, $body->reads);
        $deltas->next();
        self::assertFalse($deltas->valid());
        self::assertTrue($body->closed);
    }

    public function testCloseMidStreamAbortsTheTransfer(): void
    {
        $stream = self::stream([self::event(['content' => 'a']), self::event(['content' => 'b']), "data: [DONE]\n\n"], $body);
        foreach ($stream as $chunk) {
            self::assertSame('a', $chunk->text());
            $stream->close();
        }
        self::assertTrue($body->closed);
        self::assertSame(1, $body->reads);
        self::assertSame([], iterator_to_array($stream), 'a closed stream yields nothing more');
    }

    public function testDroppingTheStreamClosesTheConnection(): void
    {
        $stream = self::stream([self::event(['content' => 'a']), "data: [DONE]\n\n"], $body);
        $stream->next();
        unset($stream);
        self::assertTrue($body->closed);
    }

    public function testFinalCompletionAccumulatesTextFinishReasonAndUsage(): void
    {
        $stream = self::stream([self::event(['role' => 'assistant', 'content' => '']), self::event(['content' => 'Hi ']), self::event(['content' => 'you']),
            self::event([], 'length'), self::usageEvent(), "data: [DONE]\n\n"]);
        $completion = $stream->getFinalCompletion();
        self::assertSame('Hi you', $completion->text());
        self::assertSame('length', $completion->choices[0]->finishReason);
        self::assertSame(6, $completion->usage->totalTokens);
        self::assertSame('chat-1', $completion->id);
        self::assertSame('req_s', $completion->requestId);
        self::assertSame(90, $stream->rateLimit->limitRequests);
    }

    public function testABrokenConnectionMidStreamIsAConnectionErrorAndIsNotRetried(): void
    {
        $stream = self::stream([self::event(['content' => 'a']), new TransportException('connection reset by peer')], $body, $transport);
        $texts = [];
        try {
            foreach ($stream as $chunk) {
                $texts[] = $chunk->text();
            }
            self::fail('no exception');
        } catch (APIConnectionException $e) {
            self::assertStringContainsString('connection reset by peer', $e->getMessage());
        }
        self::assertSame(['a'], $texts);
        self::assertCount(1, $transport->requests, 'a stream that has started is never retried');
        self::assertTrue($body->closed);
    }

    public function testAnEventThatIsNotJsonIsAStreamError(): void
    {
        $stream = self::stream(["data: nonsense\n\n", "data: [DONE]\n\n"]);
        $this->expectException(StreamException::class);
        $this->expectExceptionMessage('not a JSON object');
        iterator_to_array($stream);
    }

    public function testAnErrorBeforeTheStreamStartsIsRetried(): void
    {
        $transport = (new FakeTransport())->push(
            FakeTransport::json(429, ['error' => ['message' => 'slow down', 'type' => 'requests', 'param' => null, 'code' => 'rate_limit_exceeded']], ['retry-after' => '1']),
            FakeTransport::response(200, [], [self::event(['content' => 'ok']), "data: [DONE]\n\n"]),
        );
        $slept = [];
        $client = new Client(['api_key' => 'sk-spark-x', 'base_url' => 'http://api.test', 'transport' => $transport, 'sleep' => static function (float $s) use (&$slept): void {
            $slept[] = $s;
        }]);
        $stream = $client->chat()->create(['model' => 'spark-1', 'messages' => self::MESSAGES, 'stream' => true]);
        self::assertSame('ok', implode('', iterator_to_array($stream->textDeltas(), false)));
        self::assertSame([1.0], $slept);
        self::assertSame($transport->requests[0]->header('Idempotency-Key'), $transport->requests[1]->header('Idempotency-Key'));
    }

    public function testInterleavedToolCallPiecesAssembleAndGoBackIntoTheHistory(): void
    {
        $call = static fn (int $index, array $piece): string => self::event(['tool_calls' => [['index' => $index] + $piece]]);
        $stream = self::stream([
            self::event(['role' => 'assistant', 'content' => null]),
            $call(0, ['id' => 'call_a', 'type' => 'function', 'function' => ['name' => 'get_weather', 'arguments' => '']]),
            $call(1, ['id' => 'call_b', 'type' => 'function', 'function' => ['name' => 'get_time']]),
            $call(0, ['function' => ['arguments' => '{"city":']]),
            $call(1, ['function' => ['arguments' => '{}']]),
            $call(0, ['function' => ['arguments' => '"Oslo"}']]),
            self::event([], 'tool_calls'),
            "data: [DONE]\n\n",
        ]);
        $accumulator = new ToolCallAccumulator();
        foreach ($stream as $chunk) {
            $accumulator->add($chunk);
        }
        $message = $stream->getFinalCompletion()->choices[0]->message;
        $expected = [
            ['id' => 'call_a', 'type' => 'function', 'function' => ['name' => 'get_weather', 'arguments' => '{"city":"Oslo"}']],
            ['id' => 'call_b', 'type' => 'function', 'function' => ['name' => 'get_time', 'arguments' => '{}']],
        ];
        self::assertSame($expected, array_map(static fn ($c) => $c->toArray(), $accumulator->toolCalls()));
        self::assertNull($message->content);
        // The answer goes back into the history as it came, followed by the tool's result
        self::assertSame(['role' => 'assistant', 'content' => null, 'tool_calls' => $expected], $message->toArray());
        self::assertSame(
            ['role' => 'tool', 'content' => '{"temperature_c":4}', 'tool_call_id' => 'call_a'],
            (new ChatMessage('tool', '{"temperature_c":4}', toolCallId: 'call_a'))->toArray(),
        );
    }
}
