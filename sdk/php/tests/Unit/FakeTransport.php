<?php

declare(strict_types=1);

namespace SparkAI\Tests\Unit;

use SparkAI\Transport\Request;
use SparkAI\Transport\Response;
use SparkAI\Transport\StringBody;
use SparkAI\Transport\TransportException;
use SparkAI\Transport\TransportInterface;

/** Answers from a queue and records every request: unit tests need no network. */
final class FakeTransport implements TransportInterface
{
    /** @var list<Request> */
    public array $requests = [];
    /** @var list<Response|TransportException|callable(Request): Response> */
    private array $queue = [];

    /** @param array<string, string> $headers @param string|list<string> $body */
    public static function response(int $status, array $headers = [], string|array $body = ''): Response
    {
        return new Response($status, $headers, new StringBody($body));
    }

    /** @param array<string, mixed> $data */
    public static function json(int $status, array $data, array $headers = []): Response
    {
        return self::response($status, $headers + ['content-type' => 'application/json'], json_encode($data, JSON_THROW_ON_ERROR));
    }

    public function push(Response|TransportException|callable ...$answers): self
    {
        array_push($this->queue, ...$answers);

        return $this;
    }

    public function send(Request $request): Response
    {
        $this->requests[] = $request;
        if (!$this->queue) {
            throw new \LogicException('FakeTransport: no answer queued for ' . $request->method . ' ' . $request->url);
        }
        $answer = array_shift($this->queue);
        if ($answer instanceof TransportException) {
            throw $answer;
        }

        return $answer instanceof Response ? $answer : $answer($request);
    }
}
