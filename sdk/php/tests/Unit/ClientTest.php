<?php

declare(strict_types=1);

namespace SparkAI\Tests\Unit;

use PHPUnit\Framework\TestCase;
use SparkAI\Client;
use SparkAI\Exception\APIConnectionException;
use SparkAI\Exception\APIException;
use SparkAI\Exception\APIResponseValidationException;
use SparkAI\Exception\APITimeoutException;
use SparkAI\Exception\ConflictException;
use SparkAI\Exception\InternalServerException;
use SparkAI\Exception\RateLimitException;
use SparkAI\Internal\RetryPolicy;
use SparkAI\Transport\TransportException;
use SparkAI\Type\ChatMessage;
use SparkAI\Type\RateLimitInfo;

final class ClientTest extends TestCase
{
    private const KEY = 'sk-spark-unit-test-key-never-shown-0000';
    private const MESSAGES = [['role' => 'user', 'content' => 'Hello!']];
    private const ENV = ['SPARKAI_API_KEY', 'SPARKAI_BASE_URL', 'SPARKAI_STREAM_URL'];

    /** @var list<float> */
    private array $slept = [];

    protected function setUp(): void
    {
        foreach (self::ENV as $name) {
            putenv($name);
        }
    }

    protected function tearDown(): void
    {
        $this->setUp();
    }

    private function client(FakeTransport $transport, array $options = []): Client
    {
        return new Client($options + [
            'api_key' => self::KEY,
            'base_url' => 'http://api.test',
            'transport' => $transport,
            'sleep' => function (float $seconds): void {
                $this->slept[] = $seconds;
            },
        ]);
    }

    private static function completion(string $text = 'Hi there'): array
    {
        return [
            'id' => 'chat-1', 'object' => 'chat.completion', 'created' => 1, 'model' => 'spark-1',
            'choices' => [['index' => 0, 'message' => ['role' => 'assistant', 'content' => $text], 'finish_reason' => 'stop']],
            'usage' => ['prompt_tokens' => 1, 'completion_tokens' => 2, 'total_tokens' => 3],
        ];
    }

    private static function error(int $status, string $code, array $headers = []): \SparkAI\Transport\Response
    {
        return FakeTransport::json($status, ['error' => ['message' => "failed: {$code}", 'type' => 'server_error', 'param' => null, 'code' => $code]], $headers);
    }

    // -- configuration ---------------------------------------------------------------------------

    public function testSettingsComeFromTheEnvironmentWhenNotGiven(): void
    {
        putenv('SPARKAI_API_KEY=' . self::KEY);
        putenv('SPARKAI_BASE_URL=http://base.test/');
        putenv('SPARKAI_STREAM_URL=http://stream.test');
        $client = new Client(['transport' => new FakeTransport()]);
        self::assertSame('http://base.test', $client->baseUrl);
        self::assertSame('http://stream.test', $client->streamUrl);
        self::assertSame(60.0, $client->timeout);
        self::assertSame(2, $client->maxRetries);
    }

    public function testAnExplicitBaseUrlServesStreamsUnlessAStreamUrlIsGiven(): void
    {
        putenv('SPARKAI_STREAM_URL=http://stream.test');
        $client = new Client(['api_key' => self::KEY, 'base_url' => 'http://127.0.0.1:3000']);
        self::assertSame('http://127.0.0.1:3000', $client->streamUrl);
        $client = new Client(['api_key' => self::KEY]);
        self::assertSame(Client::DEFAULT_BASE_URL, $client->baseUrl);
        self::assertSame('http://stream.test', $client->streamUrl);
    }

    public function testNoKeyIsAClearError(): void
    {
        $this->expectException(APIException::class);
        $this->expectExceptionMessage('SPARKAI_API_KEY');
        new Client();
    }

    /** @return array<string, array{array<string, mixed>}> */
    public function badOptions(): array
    {
        return [
            'unknown option (typo)' => [['api_key' => self::KEY, 'baseurl' => 'http://x']],
            'not an http URL' => [['api_key' => self::KEY, 'base_url' => 'ftp://x']],
            'negative retries' => [['api_key' => self::KEY, 'max_retries' => -1]],
            'zero timeout' => [['api_key' => self::KEY, 'timeout' => 0]],
        ];
    }

    /** @dataProvider badOptions */
    public function testBadOptionsAreRefused(array $options): void
    {
        $this->expectException(\InvalidArgumentException::class);
        new Client($options);
    }

    public function testTheKeyNeverShowsInDumpsOrSerialisations(): void
    {
        $transport = new FakeTransport();
        $client = $this->client($transport);
        ob_start();
        var_dump($client);
        print_r($client);
        $dump = (string) ob_get_clean();
        self::assertStringContainsString('[redacted]', $dump);
        self::assertStringNotContainsString(self::KEY, $dump . serialize($client) . json_encode($client) . var_export($client->baseUrl, true));

        // The request the transport saw carries it, but does not show it either.
        $transport->push(FakeTransport::json(200, self::completion()));
        $client->chat()->create(['model' => 'spark-1', 'messages' => self::MESSAGES]);
        $request = $transport->requests[0];
        self::assertSame('Bearer ' . self::KEY, $request->header('authorization'));
        self::assertStringNotContainsString(self::KEY, print_r($request, true) . serialize($request));
    }

    public function testAConnectionErrorTraceDoesNotLeakTheKey(): void
    {
        $transport = (new FakeTransport())->push(new TransportException('refused', retryable: false));
        try {
            $this->client($transport)->chat()->create(['model' => 'spark-1', 'messages' => self::MESSAGES]);
            self::fail('no exception');
        } catch (APIConnectionException $e) {
            self::assertStringNotContainsString(self::KEY, serialize($e) . $e . $e->getTraceAsString() . print_r($e, true));
        }
    }

    // -- chat requests ------------------------------------------------------------------------------

    public function testOnlyGivenParametersAreSentAndExtraBodyIsMerged(): void
    {
        $transport = (new FakeTransport())->push(FakeTransport::json(200, self::completion()));
        $this->client($transport)->chat()->create([
            'model' => 'spark-1',
            'messages' => [new ChatMessage('system', 'Be brief.'), ['role' => 'user', 'content' => 'Hi']],
            'temperature' => null,
            'stream' => false,
            'max_tokens' => 5,
            'extra_body' => ['top_p' => 0.5],
            'extra_headers' => ['X-Trace' => 'abc'],
        ]);
        $request = $transport->requests[0];
        self::assertSame(
            ['model' => 'spark-1', 'messages' => [['role' => 'system', 'content' => 'Be brief.'], ['role' => 'user', 'content' => 'Hi']], 'max_tokens' => 5, 'top_p' => 0.5],
            json_decode((string) $request->body, true),
        );
        self::assertSame('abc', $request->header('x-trace'));
    }

    /** @return array<string, array{array<string, mixed>}> */
    public function badChatParams(): array
    {
        return [
            'no model' => [['messages' => self::MESSAGES]],
            'messages not a list' => [['model' => 'spark-1', 'messages' => ['role' => 'user', 'content' => 'Hi']]],
            'a message that is a string' => [['model' => 'spark-1', 'messages' => ['Hi']]],
        ];
    }

    /** @dataProvider badChatParams */
    public function testBadChatParamsFailBeforeAnyRequest(array $params): void
    {
        $transport = new FakeTransport();
        try {
            $this->client($transport)->chat()->create($params);
            self::fail('no exception');
        } catch (\InvalidArgumentException) {
        }
        self::assertSame([], $transport->requests);
    }

    public function testBufferedAnswerIsTyped(): void
    {
        $transport = (new FakeTransport())->push(FakeTransport::json(200, self::completion('Hello!'), [
            'x-request-id' => 'req_1', 'x-ratelimit-limit-requests' => '90', 'x-ratelimit-reset-tokens' => '6m0s',
        ]));
        $completion = $this->client($transport)->chat()->create(['model' => 'spark-1', 'messages' => self::MESSAGES]);
        self::assertSame('Hello!', $completion->choices[0]->message->content);
        self::assertSame('stop', $completion->choices[0]->finishReason);
        self::assertSame(3, $completion->usage->totalTokens);
        self::assertSame('req_1', $completion->requestId);
        self::assertSame(90, $completion->rateLimit->limitRequests);
        self::assertSame(360.0, $completion->rateLimit->resetTokens);
    }

    public function testASuccessThatIsNotJsonIsAValidationError(): void
    {
        $transport = (new FakeTransport())->push(FakeTransport::response(200, ['x-request-id' => 'r'], '<html>'));
        $this->expectException(APIResponseValidationException::class);
        $this->client($transport)->models()->list();
    }

    public function testUsageDatesMayBeDateTimes(): void
    {
        $transport = (new FakeTransport())->push(FakeTransport::json(200, ['object' => 'usage', 'data' => [], 'totals' => []]));
        $this->client($transport)->usage()->retrieve(['start' => new \DateTimeImmutable('2026-02-01 13:00'), 'end' => '2026-02-03']);
        self::assertSame('http://api.test/v1/usage?start=2026-02-01&end=2026-02-03', $transport->requests[0]->url);
    }

    // -- retries ---------------------------------------------------------------------------------

    public function testRetriesReuseOneIdempotencyKeyAndHonourRetryAfter(): void
    {
        $transport = (new FakeTransport())->push(
            self::error(503, 'model_unavailable', ['retry-after' => '3']),
            new TransportException('connection reset'),
            FakeTransport::json(200, self::completion()),
        );
        $completion = $this->client($transport)->chat()->create(['model' => 'spark-1', 'messages' => self::MESSAGES]);
        self::assertSame('Hi there', $completion->text());
        self::assertCount(3, $transport->requests);
        $keys = array_unique(array_map(static fn ($r) => $r->header('Idempotency-Key'), $transport->requests));
        self::assertCount(1, $keys);
        self::assertSame(3.0, $this->slept[0]);
        self::assertGreaterThanOrEqual(0.0, $this->slept[1]);
        self::assertLessThanOrEqual(1.0, $this->slept[1]); // second backoff: uniform(0, 1)
    }

    public function testAGivenIdempotencyKeyIsUsedAsIs(): void
    {
        $transport = (new FakeTransport())->push(self::error(500, 'internal_error'), FakeTransport::json(200, self::completion()));
        $this->client($transport)->chat()->create(['model' => 'spark-1', 'messages' => self::MESSAGES, 'idempotency_key' => 'order-42']);
        self::assertSame(['order-42', 'order-42'], array_map(static fn ($r) => $r->header('Idempotency-Key'), $transport->requests));
        self::assertArrayNotHasKey('idempotency_key', json_decode((string) $transport->requests[0]->body, true));

        $transport = (new FakeTransport())->push(FakeTransport::json(200, self::completion()));
        $this->client($transport)->chat()->create(['model' => 'spark-1', 'messages' => self::MESSAGES, 'extra_headers' => ['idempotency-key' => 'mine']]);
        self::assertSame(['idempotency-key' => 'mine'], array_filter($transport->requests[0]->headers(), static fn ($n) => strcasecmp($n, 'idempotency-key') === 0, ARRAY_FILTER_USE_KEY));
    }

    public function testRetriesStopAfterMaxRetriesWithTheLastError(): void
    {
        $transport = (new FakeTransport())->push(
            new TransportException('slow', timedOut: true),
            new TransportException('slow', timedOut: true),
            new TransportException('slow', timedOut: true),
        );
        try {
            $this->client($transport)->models()->list();
            self::fail('no exception');
        } catch (APITimeoutException $e) {
            self::assertNull($e->getStatus());
        }
        self::assertCount(3, $transport->requests);
        self::assertCount(2, $this->slept);
    }

    public function testAPerCallMaxRetriesOverridesTheClients(): void
    {
        $transport = (new FakeTransport())->push(self::error(502, 'model_error'), self::error(502, 'model_error'));
        try {
            $this->client($transport, ['max_retries' => 5])->chat()->create(['model' => 'spark-1', 'messages' => self::MESSAGES, 'max_retries' => 1]);
            self::fail('no exception');
        } catch (InternalServerException $e) {
            self::assertSame('model_error', $e->getErrorCode());
        }
        self::assertCount(2, $transport->requests);
    }

    /** @return array<string, array{\SparkAI\Transport\Response|TransportException}> */
    public function notRetried(): array
    {
        return [
            '409 other than idempotency_key_in_use' => [self::error(409, 'conflict')],
            '429 insufficient_quota' => [self::error(429, 'insufficient_quota')],
            'bad URL' => [new TransportException('bad url', retryable: false)],
            '400' => [self::error(400, 'invalid_json')],
        ];
    }

    /** @dataProvider notRetried */
    public function testNotRetried(\SparkAI\Transport\Response|TransportException $answer): void
    {
        $transport = (new FakeTransport())->push($answer, FakeTransport::json(200, self::completion()));
        try {
            $this->client($transport)->chat()->create(['model' => 'spark-1', 'messages' => self::MESSAGES]);
            self::fail('no exception');
        } catch (APIException) {
        }
        self::assertCount(1, $transport->requests);
    }

    public function testTheConflictOfARunningKeyIsTypedAndRetried(): void
    {
        $transport = (new FakeTransport())->push(self::error(409, 'idempotency_key_in_use'), self::error(409, 'idempotency_key_in_use'));
        $this->expectException(ConflictException::class);
        try {
            $this->client($transport, ['max_retries' => 1])->chat()->create(['model' => 'spark-1', 'messages' => self::MESSAGES]);
        } finally {
            self::assertCount(2, $transport->requests);
        }
    }

    public function testAPostWithoutIdempotencyKeyIsNeverRetried(): void
    {
        $error = new InternalServerException('x', 503);
        self::assertFalse(RetryPolicy::shouldRetry($error, 'POST', false));
        self::assertTrue(RetryPolicy::shouldRetry($error, 'POST', true));
        self::assertTrue(RetryPolicy::shouldRetry($error, 'GET', false));
        self::assertFalse(RetryPolicy::shouldRetry(new RateLimitException('x', 429, null, 'insufficient_quota'), 'GET', false));
    }

    public function testBackoffDoublesUpToItsCapAndRetryAfterIsCapped(): void
    {
        $max = static fn (): float => 1.0;
        self::assertSame([0.5, 1.0, 2.0, 4.0, 8.0, 8.0], array_map(static fn (int $a) => RetryPolicy::delay($a, null, $max), range(0, 5)));
        self::assertSame(0.0, RetryPolicy::delay(3, null, static fn (): float => 0.0));
        self::assertSame(60.0, RetryPolicy::delay(0, 600.0));
        self::assertSame(1.5, RetryPolicy::delay(4, 1.5));
    }

    /** @return array<string, array{?string, ?float}> */
    public function retryAfterValues(): array
    {
        return [
            'seconds' => ['2', 2.0],
            'fraction' => ['1.5', 1.5],
            'negative' => ['-3', 0.0],
            'HTTP date 30 s ahead' => ['Thu, 01 Jan 2026 00:00:30 GMT', 30.0],
            'HTTP date in the past' => ['Wed, 31 Dec 2025 23:00:00 GMT', 0.0],
            'garbage' => ['soon', null],
            'absent' => [null, null],
        ];
    }

    /** @dataProvider retryAfterValues */
    public function testRetryAfterParsing(?string $value, ?float $seconds): void
    {
        $now = (float) gmmktime(0, 0, 0, 1, 1, 2026);
        self::assertSame($seconds, RetryPolicy::parseRetryAfter($value, $now));
    }

    /** @return array<string, array{string, ?float}> */
    public function durations(): array
    {
        return [['20ms', 0.02], ['1.5s', 1.5], ['6m0s', 360.0], ['7', 7.0], ['1h', 3600.0], ['soon', null], ['5s junk', null]];
    }

    /** @dataProvider durations */
    public function testRateLimitResetDurations(string $value, ?float $seconds): void
    {
        self::assertEqualsWithDelta($seconds, RateLimitInfo::parseDuration($value), 1e-12);
        if ($seconds === null) {
            self::assertNull(RateLimitInfo::parseDuration($value));
        }
    }
}
