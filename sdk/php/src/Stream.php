<?php

declare(strict_types=1);

namespace SparkAI;

use SparkAI\Exception\APIException;
use SparkAI\Exception\StreamException;
use SparkAI\Internal\ErrorFactory;
use SparkAI\SSE\SSEDecoder;
use SparkAI\SSE\ServerSentEvent;
use SparkAI\Transport\Response;
use SparkAI\Transport\TransportException;
use SparkAI\Type\ChatCompletion;
use SparkAI\Type\ChatCompletionChunk;
use SparkAI\Type\ChatMessage;
use SparkAI\Type\Choice;
use SparkAI\Type\RateLimitInfo;
use SparkAI\Type\Usage;

/**
 * A streamed chat answer: iterate it (foreach) for ChatCompletionChunk objects as they arrive.
 * Iteration ends at [DONE]; an error event mid-stream, or an end before [DONE], throws
 * StreamException. close() (or dropping the object) closes the connection, so the model stops.
 * A stream is never retried once it has started.
 *
 * @implements \IteratorAggregate<int, ChatCompletionChunk>
 */
final class Stream implements \IteratorAggregate
{
    private const DONE = '[DONE]';

    public readonly ?string $requestId;
    public readonly ?RateLimitInfo $rateLimit;

    private SSEDecoder $decoder;
    /** @var list<ServerSentEvent> */
    private array $events = [];
    private bool $eof = false;
    private bool $done = false;
    private bool $closed = false;

    // What get_final_completion() rebuilds the answer from.
    private ?ChatCompletionChunk $first = null;
    private string $role = 'assistant';
    private string $text = '';
    private ?string $finishReason = null;
    private ?Usage $usage = null;
    private ToolCallAccumulator $tools;

    public function __construct(private readonly Response $response)
    {
        $this->requestId = ErrorFactory::requestId($response->headers);
        $this->rateLimit = RateLimitInfo::fromHeaders($response->headers);
        $this->decoder = new SSEDecoder();
        $this->tools = new ToolCallAccumulator();
    }

    public function __destruct()
    {
        $this->close();
    }

    /** @return \Generator<int, ChatCompletionChunk> */
    public function getIterator(): \Generator
    {
        while (($chunk = $this->next()) !== null) {
            yield $chunk;
        }
    }

    /**
     * The next chunk, or null when the stream is done (or closed).
     *
     * @throws StreamException|APIException
     */
    public function next(): ?ChatCompletionChunk
    {
        try {
            while (!$this->closed) {
                $chunk = $this->nextFromBuffer();
                if ($chunk !== null) {
                    return $chunk;
                }
                if ($this->done) {
                    break;
                }
                $this->readMore();
            }
        } catch (\Throwable $e) {
            $this->close();
            throw $e;
        }
        $this->close();

        return null;
    }

    /**
     * Just the text, piece by piece, as it arrives.
     *
     * @return \Generator<int, string>
     */
    public function textDeltas(): \Generator
    {
        foreach ($this as $chunk) {
            foreach ($chunk->choices as $choice) {
                if ($choice->index === 0 && $choice->delta->content !== null && $choice->delta->content !== '') {
                    yield $choice->delta->content;
                }
            }
        }
    }

    /**
     * Read to the end and return the whole answer (text, tool calls, finish reason, usage) in the
     * buffered answer's shape: a null content when tool calls came without text.
     */
    public function getFinalCompletion(): ChatCompletion
    {
        foreach ($this as $_) {
            // read everything
        }
        $first = $this->first;
        $calls = $this->tools->toolCalls();
        $message = new ChatMessage($this->role, $calls && $this->text === '' ? null : $this->text, null, $calls ?: null);

        return new ChatCompletion(
            $first?->id ?? '',
            $first?->created ?? 0,
            $first?->model ?? '',
            [new Choice(0, $message, $this->finishReason)],
            $this->usage,
            'chat.completion',
            $this->requestId,
            $this->rateLimit,
        );
    }

    /** Abort the transfer: the connection closes and the server stops the model. Idempotent. */
    public function close(): void
    {
        if ($this->closed) {
            return;
        }
        $this->closed = true;
        $this->events = [];
        $this->response->close();
    }

    public function isClosed(): bool
    {
        return $this->closed;
    }

    private function readMore(): void
    {
        try {
            $bytes = $this->response->read();
        } catch (TransportException $e) {
            throw ErrorFactory::fromTransport($e, 'The connection broke while streaming');
        }
        if ($bytes === null) {
            array_push($this->events, ...$this->decoder->flush());
            $this->eof = true;
        } else {
            array_push($this->events, ...$this->decoder->feed($bytes));
        }
    }

    private function nextFromBuffer(): ?ChatCompletionChunk
    {
        while ($this->events && !$this->done) {
            $chunk = $this->handle(array_shift($this->events));
            if ($chunk !== null) {
                return $chunk;
            }
        }
        if ($this->eof && !$this->done) {
            throw new StreamException(
                'The stream ended before [DONE]: the connection was cut or the server timed out.',
                null, null, 'stream_incomplete', null, $this->requestId,
            );
        }

        return null;
    }

    private function handle(ServerSentEvent $event): ?ChatCompletionChunk
    {
        $data = trim($event->data);
        if ($data === self::DONE) {
            $this->done = true;
            $this->events = [];

            return null;
        }
        if ($data === '') {
            return null;
        }
        $payload = json_decode($data, true, 64, JSON_INVALID_UTF8_SUBSTITUTE | JSON_BIGINT_AS_STRING);
        if (!is_array($payload) || ($payload !== [] && array_is_list($payload))) {
            if ($this->eof && !$this->events) { // a half-received last event
                throw new StreamException(
                    'The stream ended in the middle of an event, before [DONE].',
                    null, null, 'stream_incomplete', null, $this->requestId,
                );
            }
            throw new StreamException(
                'The stream sent an event that is not a JSON object: ' . substr($data, 0, 200),
                null, null, 'invalid_event', null, $this->requestId,
            );
        }
        if ($event->event === 'error' || (array_key_exists('error', $payload) && !array_key_exists('choices', $payload))) {
            throw ErrorFactory::fromStreamEvent($payload, $this->requestId);
        }
        $chunk = ChatCompletionChunk::fromArray($payload);
        $this->accumulate($chunk);

        return $chunk;
    }

    private function accumulate(ChatCompletionChunk $chunk): void
    {
        $this->first ??= $chunk;
        $this->tools->add($chunk);
        foreach ($chunk->choices as $choice) {
            if ($choice->index !== 0) {
                continue;
            }
            if ($choice->delta->role !== null && $choice->delta->role !== '') {
                $this->role = $choice->delta->role;
            }
            if ($choice->delta->content !== null) {
                $this->text .= $choice->delta->content;
            }
            if ($choice->finishReason !== null && $choice->finishReason !== '') {
                $this->finishReason = $choice->finishReason;
            }
        }
        if ($chunk->usage !== null) {
            $this->usage = $chunk->usage;
        }
    }
}
