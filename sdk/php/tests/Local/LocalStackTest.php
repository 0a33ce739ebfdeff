<?php

declare(strict_types=1);

namespace SparkAI\Tests\Local;

use PHPUnit\Framework\TestCase;
use SparkAI\Client;
use SparkAI\Exception\AuthenticationException;
use SparkAI\Exception\BadRequestException;
use SparkAI\Exception\NotFoundException;
use SparkAI\Exception\RateLimitException;
use SparkAI\Type\UsageReport;

/**
 * The SDK against a running local stack (`python -m sparkai_local --model scripted`), over real
 * HTTP with the real curl transport. tests/local/test_php_sdk.py starts the stack and runs this
 * suite with:
 *   SPARKAI_BASE_URL, SPARKAI_API_KEY    the stack and its demo key
 *   SPARKAI_TEST_SAGEMAKER_URL           the local SageMaker's /_local control API (scripts, gates)
 *   SPARKAI_TEST_EXHAUSTED_KEY           a key whose account has spent its request budget, refilling hours later
 * Synchronisation is by the scripted model's gate, never by sleeping.
 */
final class LocalStackTest extends TestCase
{
    private const TEXT = "Hello! I'm doing great. How can I help you today?";
    private const MESSAGES = [['role' => 'user', 'content' => 'Hello!']];

    private static function env(string $name): string
    {
        $value = getenv($name);
        if (!is_string($value) || $value === '') {
            self::fail("{$name} is not set: run this suite through tests/local/test_php_sdk.py");
        }

        return $value;
    }

    /** POST/PUT/GET the local SageMaker's control API. */
    private static function control(string $method, string $path, ?array $json = null): array
    {
        $handle = curl_init(self::env('SPARKAI_TEST_SAGEMAKER_URL') . $path);
        curl_setopt_array($handle, [
            CURLOPT_CUSTOMREQUEST => $method,
            CURLOPT_RETURNTRANSFER => true,
            CURLOPT_HTTPHEADER => ['Content-Type: application/json'],
            CURLOPT_POSTFIELDS => $json === null ? '' : json_encode($json),
            CURLOPT_TIMEOUT => 60, // above /_local/streams/{n}/ended's own 30 s
        ]);
        $body = curl_exec($handle);
        $status = curl_getinfo($handle, CURLINFO_RESPONSE_CODE);
        curl_close($handle);
        self::assertContains($status, [200, 204], "{$method} {$path}: {$body}");

        return json_decode((string) $body, true) ?? [];
    }

    private static function client(array $options = []): Client
    {
        // timeout: a stream that only arrived at its end would hold at the gate and fail here.
        return new Client($options + ['timeout' => 20]);
    }

    protected function setUp(): void
    {
        self::control('POST', '/_local/reset');
    }

    protected function tearDown(): void
    {
        self::control('POST', '/_local/reset');
    }

    public function testBufferedCompletion(): void
    {
        $completion = self::client()->chat()->create(['model' => 'spark-1', 'messages' => self::MESSAGES]);
        self::assertSame(self::TEXT, $completion->text());
        self::assertSame('stop', $completion->choices[0]->finishReason);
        self::assertSame('spark-1', $completion->model);
        self::assertSame($completion->usage->promptTokens + $completion->usage->completionTokens, $completion->usage->totalTokens);
        self::assertNotEmpty($completion->requestId);
        self::assertSame(90, $completion->rateLimit?->limitRequests); // the demo key's Pro plan
    }

    public function testAStreamArrivesWhileTheModelIsStillGenerating(): void
    {
        // The model emits two pieces, then waits at its gate until released: if the SDK
        // buffered the body, the two deltas could never be read before the release.
        self::control('PUT', '/_local/scripts/spark-1', ['gate_after' => 2]);
        $stream = self::client()->chat()->create(['model' => 'spark-1', 'messages' => self::MESSAGES, 'stream' => true]);
        $deltas = $stream->textDeltas();
        $first = $deltas->current();
        $deltas->next();
        self::assertSame("Hello! I'm", $first . $deltas->current());
        $records = self::control('GET', '/_local/stats')['stream_records'];
        self::assertFalse(end($records)['completed'], 'the model had not finished when the SDK yielded');

        self::control('POST', '/_local/release/spark-1');
        $completion = $stream->getFinalCompletion();
        self::assertSame(self::TEXT, $completion->text());
        self::assertSame('stop', $completion->choices[0]->finishReason);
        self::assertSame(10, $completion->usage?->completionTokens);
        self::assertNotEmpty($stream->requestId);
        self::assertTrue($stream->isClosed());
    }

    public function testClosingAStreamStopsTheModel(): void
    {
        self::control('PUT', '/_local/scripts/spark-1', ['gate_after' => 2]);
        $stream = self::client()->chat()->create(['model' => 'spark-1', 'messages' => self::MESSAGES, 'stream' => true]);
        $texts = [];
        foreach ($stream->textDeltas() as $text) {
            $texts[] = $text;
            if (count($texts) === 2) {
                $stream->close();
            }
        }
        self::assertSame("Hello! I'm", implode('', $texts));
        // The model side sees the connection go and stops at the two pieces it was allowed
        // (a blocking read that answers once the stream has ended: no polling).
        $last = self::control('GET', '/_local/streams/0/ended');
        self::assertTrue($last['closed_early']);
        self::assertFalse($last['completed']);
        self::assertSame(2, $last['chunks_emitted']);
    }

    public function testAnUnknownKeyIsAnAuthenticationException(): void
    {
        try {
            self::client(['api_key' => 'sk-spark-not-a-real-key-000000000000000000', 'max_retries' => 0])
                ->chat()->create(['model' => 'spark-1', 'messages' => self::MESSAGES]);
            self::fail('no exception');
        } catch (AuthenticationException $e) {
            self::assertSame(401, $e->getStatus());
            self::assertSame('invalid_api_key', $e->getErrorCode());
            self::assertNotEmpty($e->getRequestId());
            self::assertStringNotContainsString('sk-spark-not-a-real-key', (string) $e);
        }
    }

    public function testABadParameterIsABadRequestExceptionNamingIt(): void
    {
        $client = self::client(['max_retries' => 0]);
        try {
            $client->chat()->create(['model' => 'spark-1', 'messages' => []]);
            self::fail('no exception');
        } catch (BadRequestException $e) {
            self::assertSame(400, $e->getStatus());
            self::assertSame('messages', $e->getParam());
            self::assertNotEmpty($e->getRequestId());
        }
        try {
            $client->chat()->create(['model' => 'spark-1', 'messages' => self::MESSAGES, 'temperature' => 5]);
            self::fail('no exception');
        } catch (BadRequestException $e) {
            self::assertSame('temperature', $e->getParam());
        }
    }

    public function testASpentBudgetIsARateLimitExceptionWithRetryAfter(): void
    {
        $client = self::client(['api_key' => self::env('SPARKAI_TEST_EXHAUSTED_KEY'), 'max_retries' => 0]);
        try {
            $client->chat()->create(['model' => 'spark-1', 'messages' => self::MESSAGES]);
            self::fail('no exception');
        } catch (RateLimitException $e) {
            self::assertSame(429, $e->getStatus());
            self::assertSame('rate_limit_exceeded', $e->getErrorCode());
            self::assertSame('requests', $e->getErrorType());
            self::assertSame(60.0, $e->getRetryAfter()); // its refill is hours away: the most the limiter says
        }
    }

    public function testA503IsRetriedAfterTheServersRetryAfterWithTheSameIdempotencyKey(): void
    {
        self::control('PUT', '/_local/scripts/spark-1', ['invoke_error' => ['code' => 'ServiceUnavailable', 'count' => 1]]);
        $slept = [];
        $client = self::client(['sleep' => static function (float $seconds) use (&$slept): void {
            $slept[] = $seconds;
            usleep((int) ($seconds * 1e6)); // really wait it out, as a user's client would
        }]);
        $completion = $client->chat()->create(['model' => 'spark-1', 'messages' => self::MESSAGES]);
        self::assertSame(self::TEXT, $completion->text());
        self::assertCount(1, $slept);
        self::assertSame((float) (int) $slept[0], $slept[0], "a whole number of seconds: the server's retry-after, not jitter");
        self::assertGreaterThanOrEqual(1.0, $slept[0]);
        self::assertSame(2, self::control('GET', '/_local/stats')['invocations']['spark-1'] ?? 0);
    }

    public function testModels(): void
    {
        $client = self::client();
        $models = $client->models()->list();
        self::assertSame(['spark-1', 'spark-turbo', 'spark-pro'], $models->ids());
        $pro = $client->models()->retrieve('spark-pro');
        self::assertSame(8192, $pro->maxTokens);
        self::assertSame('0.0012', $pro->pricing?->per1kTokensUsd);
        $this->expectException(NotFoundException::class);
        $client->models()->retrieve('gpt-4');
    }

    public function testUsage(): void
    {
        $client = self::client();
        $client->chat()->create(['model' => 'spark-1', 'messages' => self::MESSAGES]);
        $today = gmdate('Y-m-d');
        $report = $client->usage()->retrieve(['start' => $today, 'end' => $today]);
        self::assertInstanceOf(UsageReport::class, $report);
        self::assertSame('usage', $report->object);
        self::assertSame([$today, $today], [$report->start, $report->end]);
        self::assertGreaterThanOrEqual(1, $report->totals->requests);
        self::assertMatchesRegularExpression('/^\d+(\.\d+)?$/', $report->totals->costUsd);
        self::assertMatchesRegularExpression('/^\d+(\.\d+)?$/', $report->monthToDateUsd);
        $spark1 = array_filter($report->data, static fn ($row) => $row->model === 'spark-1' && $row->date === $today);
        self::assertNotEmpty($spark1);
        try {
            $client->usage()->retrieve(['start' => '2026-13-01', 'max_retries' => 0]);
            self::fail('no exception');
        } catch (BadRequestException $e) {
            self::assertSame('start', $e->getParam());
        }
    }
}
