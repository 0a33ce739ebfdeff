<?php

declare(strict_types=1);

namespace SparkAI\Tests\Unit;

use PHPUnit\Framework\TestCase;
use SparkAI\Client;
use SparkAI\Exception\APIException;
use SparkAI\Stream;
use SparkAI\Transport\Request;
use SparkAI\Transport\Response;
use SparkAI\Transport\StringBody;
use SparkAI\Type\ChatCompletion;
use SparkAI\Type\Model;
use SparkAI\Type\ModelList;
use SparkAI\Type\UsageReport;

/**
 * Replays the shared wire-level cases in sdk/fixtures/ (also replayed by the Python and
 * JavaScript SDKs; format in sdk/fixtures/README.md).
 */
final class FixturesTest extends TestCase
{
    private const KEY = 'sk-spark-fixture-key-do-not-leak-0000';
    private const BASE = 'https://base.example.test';
    private const STREAM = 'https://stream.example.test';

    /** @return array<string, array{array<string, mixed>}> */
    private static function cases(string $file): array
    {
        $path = dirname(__DIR__, 3) . '/fixtures/' . $file;
        $data = json_decode((string) file_get_contents($path), true, 512, JSON_THROW_ON_ERROR);
        $cases = [];
        foreach ($data['cases'] as $case) {
            $cases[$case['name']] = [$case];
        }

        return $cases;
    }

    public function requestCases(): array
    {
        return self::cases('requests.json');
    }

    public function responseCases(): array
    {
        return self::cases('responses.json');
    }

    public function sseCases(): array
    {
        return self::cases('sse.json');
    }

    public function errorCases(): array
    {
        return self::cases('errors.json');
    }

    private static function client(FakeTransport $transport, array $options = []): Client
    {
        return new Client($options + [
            'api_key' => self::KEY,
            'base_url' => self::BASE,
            'stream_url' => self::STREAM,
            'transport' => $transport,
            'sleep' => static function (float $seconds): void {
            },
        ]);
    }

    private static function call(Client $client, string $call, array $args): mixed
    {
        return match ($call) {
            'chat.create' => $client->chat()->create($args),
            'models.list' => $client->models()->list(),
            'models.retrieve' => $client->models()->retrieve($args['id']),
            'usage.retrieve' => $client->usage()->retrieve($args),
        };
    }

    /** A valid 200 answer for $call, for the request cases and for "retried, then succeeded". */
    private static function okFor(string $call, array $args): Response
    {
        if ($call === 'chat.create' && ($args['stream'] ?? false) === true) {
            return FakeTransport::response(200, ['content-type' => 'text/event-stream'], "data: [DONE]\n\n");
        }
        foreach (self::cases('responses.json') as [$case]) {
            if ($case['call'] === $call) {
                return FakeTransport::json($case['status'], $case['body'], $case['headers']);
            }
        }
        throw new \LogicException("no response fixture for {$call}");
    }

    /** @return array<string, mixed> the args of the first requests.json case of $call */
    private static function argsFor(string $call): array
    {
        foreach (self::cases('requests.json') as [$case]) {
            if ($case['call'] === $call) {
                return $case['args'];
            }
        }

        return ['model' => 'spark-1', 'messages' => [['role' => 'user', 'content' => 'Hi']]];
    }

    private static function lowerHeaders(Request $request): array
    {
        return array_change_key_case($request->headers(), CASE_LOWER);
    }

    /** @dataProvider requestCases */
    public function testRequestOnTheWire(array $case): void
    {
        $transport = new FakeTransport();
        $client = self::client($transport);
        $transport->push(self::okFor($case['call'], $case['args']), self::okFor($case['call'], $case['args']));
        $result = self::call($client, $case['call'], $case['args']);
        if ($result instanceof Stream) {
            iterator_to_array($result);
        }
        self::call($client, $case['call'], $case['args']);

        [$first, $second] = $transport->requests;
        $expect = $case['expect'];
        $root = $expect['url'] === 'stream' ? self::STREAM : self::BASE;
        $parts = parse_url($first->url);
        self::assertSame($expect['method'], $first->method);
        self::assertStringStartsWith($root . '/', $first->url);
        self::assertSame($expect['path'], $parts['path']);
        parse_str($parts['query'] ?? '', $query);
        self::assertSame($expect['query'], $query);
        if ($expect['body'] === null) {
            self::assertNull($first->body);
        } else {
            self::assertSame($expect['body'], json_decode((string) $first->body, true, 512, JSON_THROW_ON_ERROR));
        }
        $headers = self::lowerHeaders($first);
        foreach ($expect['headers'] as $name => $value) {
            self::assertSame($value, $headers[$name] ?? null, "header {$name}");
        }
        self::assertSame('Bearer ' . self::KEY, $headers['authorization']);
        if ($expect['idempotency_key']) {
            self::assertMatchesRegularExpression('/^sparkai-[0-9a-f]{32}$/', $headers['idempotency-key'] ?? '');
            self::assertNotSame($headers['idempotency-key'], self::lowerHeaders($second)['idempotency-key'], 'a fresh key per call');
        } else {
            self::assertArrayNotHasKey('idempotency-key', $headers);
        }
    }

    /** @dataProvider responseCases */
    public function testTypedResult(array $case): void
    {
        $transport = (new FakeTransport())->push(FakeTransport::json($case['status'], $case['body'], $case['headers']));
        $result = self::call(self::client($transport), $case['call'], self::argsFor($case['call']));
        $expect = $case['expect'];
        switch ($case['call']) {
            case 'chat.create':
                self::assertInstanceOf(ChatCompletion::class, $result);
                self::assertSame($expect['id'], $result->id);
                self::assertSame($expect['model'], $result->model);
                self::assertSame($expect['text'], $result->choices[0]->message->content);
                self::assertSame($expect['text'] ?? '', $result->text());
                self::assertSame($expect['finish_reason'], $result->choices[0]->finishReason);
                $calls = $result->choices[0]->message->toolCalls;
                self::assertSame($expect['tool_calls'], $calls === null ? null : array_map(static fn ($c) => $c->toArray(), $calls));
                if (array_key_exists('json', $expect)) {
                    self::assertSame($expect['json'], json_decode((string) $result->text(), true, 512, JSON_THROW_ON_ERROR));
                }
                self::assertSame($expect['usage'], $result->usage?->toArray());
                self::assertSame($expect['request_id'], $result->requestId);
                if (isset($expect['rate_limit'])) {
                    $limits = $result->rateLimit;
                    self::assertNotNull($limits);
                    self::assertSame($expect['rate_limit']['limit_requests'], $limits->limitRequests);
                    self::assertSame($expect['rate_limit']['remaining_requests'], $limits->remainingRequests);
                    self::assertEqualsWithDelta($expect['rate_limit']['reset_requests'], $limits->resetRequests, 1e-9);
                    self::assertSame($expect['rate_limit']['limit_tokens'], $limits->limitTokens);
                    self::assertSame($expect['rate_limit']['remaining_tokens'], $limits->remainingTokens);
                    self::assertEqualsWithDelta($expect['rate_limit']['reset_tokens'], $limits->resetTokens, 1e-9);
                }
                self::assertSame($case['body'], $result->toArray());
                break;
            case 'models.list':
                self::assertInstanceOf(ModelList::class, $result);
                self::assertSame($expect['ids'], $result->ids());
                self::assertCount(count($expect['ids']), $result);
                break;
            case 'models.retrieve':
                self::assertInstanceOf(Model::class, $result);
                self::assertSame($expect['id'], $result->id);
                self::assertSame($expect['context_length'], $result->contextLength);
                self::assertSame($expect['max_tokens'], $result->maxTokens);
                self::assertSame($expect['price_per_1k_tokens_usd'], $result->pricing?->per1kTokensUsd);
                break;
            case 'usage.retrieve':
                self::assertInstanceOf(UsageReport::class, $result);
                self::assertCount($expect['rows'], $result);
                $totals = $result->totals;
                self::assertSame($expect['totals'], [
                    'requests' => $totals->requests,
                    'prompt_tokens' => $totals->promptTokens,
                    'completion_tokens' => $totals->completionTokens,
                    'total_tokens' => $totals->totalTokens,
                    'cost_usd' => $totals->costUsd,
                ]);
                self::assertSame($expect['spend_limit_usd'], $result->spendLimitUsd);
                self::assertSame($expect['month_to_date_usd'], $result->monthToDateUsd);
                foreach ($result as $i => $row) {
                    self::assertSame($case['body']['data'][$i]['cost_usd'], $row->costUsd);
                    self::assertSame($case['body']['data'][$i]['key_id'], $row->keyId);
                }
                break;
            default:
                self::fail("unknown call {$case['call']}");
        }
    }

    /** @return array<string, list<string>> every way the case says to cut the body into reads */
    private static function readings(string $body, array $splits): array
    {
        $readings = ['whole body' => [$body], 'one byte per read' => str_split($body)];
        foreach ($splits as $i => $offsets) {
            $pieces = [];
            $previous = 0;
            foreach ([...$offsets, strlen($body)] as $offset) {
                $pieces[] = substr($body, $previous, $offset - $previous);
                $previous = $offset;
            }
            $readings["splits[{$i}]"] = $pieces;
        }

        return $readings;
    }

    /** @dataProvider sseCases */
    public function testEventStream(array $case): void
    {
        $expect = $case['expect'];
        foreach (self::readings($case['body'], $case['splits']) as $how => $pieces) {
            $transport = (new FakeTransport())->push(new Response(200, $case['headers'], new StringBody($pieces)));
            $stream = self::client($transport)->chat()->create(['model' => 'spark-1', 'messages' => [['role' => 'user', 'content' => 'Hi']], 'stream' => true]);
            $chunks = [];
            $error = null;
            try {
                foreach ($stream as $chunk) {
                    $chunks[] = $chunk;
                }
            } catch (APIException $e) {
                $error = $e;
            }
            $text = implode('', array_map(static fn ($c) => $c->text(), $chunks));
            $finish = null;
            $usage = null;
            foreach ($chunks as $chunk) {
                foreach ($chunk->choices as $choice) {
                    $finish = $choice->finishReason ?? $finish;
                }
                $usage = $chunk->usage ?? $usage;
            }
            self::assertCount($expect['chunks'], $chunks, $how);
            self::assertSame($expect['text'], $text, $how);
            self::assertSame($expect['finish_reason'], $finish, $how);
            self::assertSame($expect['usage'], $usage?->toArray(), $how);
            self::assertSame($case['headers']['x-request-id'] ?? null, $stream->requestId, $how);
            self::assertTrue($stream->isClosed(), "{$how}: the stream closes at its end");
            if (array_key_exists('tool_calls', $expect)) {
                $calls = $stream->getFinalCompletion()->choices[0]->message->toolCalls ?? [];
                self::assertSame($expect['tool_calls'], array_map(static fn ($c) => $c->toArray(), $calls), $how);
            }
            if ($expect['error'] === null) {
                self::assertNull($error, $how . ': ' . $error);
                continue;
            }
            self::assertNotNull($error, $how);
            self::assertSame(self::phpClass($expect['error']['class']), get_class($error), $how);
            self::assertSame($expect['error']['code'], $error->getErrorCode(), $how);
            self::assertSame($expect['error']['type'], $error->getErrorType(), $how);
            if ($expect['error']['message'] !== null) {
                self::assertSame($expect['error']['message'], $error->getMessage(), $how);
            }
            self::assertSame($case['headers']['x-request-id'] ?? null, $error->getRequestId(), $how);
        }
    }

    /** @dataProvider errorCases */
    public function testTypedError(array $case): void
    {
        $expect = $case['expect'];
        $answer = fn (): Response => FakeTransport::response($case['status'], $case['headers'], $case['body']);
        $transport = (new FakeTransport())->push($answer());
        try {
            self::call(self::client($transport, ['max_retries' => 0]), $case['call'], self::argsFor($case['call']));
            self::fail('no exception');
        } catch (APIException $error) {
        }
        self::assertInstanceOf(self::phpClass($expect['class']), $error);
        self::assertSame(self::phpClass($expect['class']), get_class($error), 'the most specific class');
        self::assertSame($expect['status'], $error->getStatus());
        self::assertSame($expect['type'], $error->getErrorType());
        self::assertSame($expect['code'], $error->getErrorCode());
        self::assertSame($expect['param'], $error->getParam());
        self::assertSame($expect['message'], $error->getMessage());
        self::assertSame($expect['request_id'], $error->getRequestId());
        self::assertCount(1, $transport->requests);
        foreach (['message' => $error->getMessage(), 'string' => (string) $error, 'json' => json_encode($error),
            'serialized' => serialize($error), 'var_dump' => self::dump($error)] as $form => $text) {
            self::assertStringNotContainsString(self::KEY, (string) $text, "the key leaks through the error's {$form} form");
        }

        // With one retry allowed: retried (same Idempotency-Key, the right wait) or not at all.
        $slept = [];
        $args = self::argsFor($case['call']);
        $transport = (new FakeTransport())->push($answer(), self::okFor($case['call'], $args));
        $client = self::client($transport, ['max_retries' => 1, 'sleep' => static function (float $s) use (&$slept): void {
            $slept[] = $s;
        }]);
        if ($expect['retry']) {
            self::call($client, $case['call'], $args);
            self::assertCount(2, $transport->requests);
            [$first, $second] = $transport->requests;
            self::assertSame($first->header('Idempotency-Key'), $second->header('Idempotency-Key'));
            self::assertNotNull($first->header('Idempotency-Key'));
            self::assertCount(1, $slept);
            if ($expect['retry_after'] !== null) {
                self::assertEquals($expect['retry_after'], $slept[0]);
            } else {
                self::assertGreaterThanOrEqual(0.0, $slept[0]);
                self::assertLessThanOrEqual(0.5, $slept[0]); // first backoff: uniform(0, 0.5)
            }
        } else {
            try {
                self::call($client, $case['call'], $args);
                self::fail('no exception');
            } catch (APIException $again) {
                self::assertSame(get_class($error), get_class($again));
            }
            self::assertCount(1, $transport->requests);
            self::assertSame([], $slept);
        }
    }

    private static function phpClass(string $pythonName): string
    {
        $stem = match ($pythonName) {
            'SparkAIError' => 'API',
            default => substr($pythonName, 0, -strlen('Error')),
        };

        return 'SparkAI\\Exception\\' . $stem . 'Exception';
    }

    private static function dump(mixed $value): string
    {
        ob_start();
        var_dump($value);
        print_r($value);

        return (string) ob_get_clean();
    }
}
