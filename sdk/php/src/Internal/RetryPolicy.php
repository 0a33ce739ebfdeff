<?php

declare(strict_types=1);

namespace SparkAI\Internal;

use SparkAI\Exception\APIConnectionException;
use SparkAI\Exception\APIException;
use SparkAI\Exception\APIStatusException;

/**
 * Which failures are retried and how long to wait: full-jitter exponential backoff, or the
 * server's retry-after (capped at 60 s). Same numbers as the Python SDK.
 *
 * @internal
 */
final class RetryPolicy
{
    public const DEFAULT_MAX_RETRIES = 2;
    public const INITIAL_DELAY = 0.5; // seconds; the backoff ceiling doubles from here per attempt
    public const MAX_DELAY = 8.0; // ceiling of the computed (jittered) backoff
    public const MAX_RETRY_AFTER = 60.0; // a server's retry-after is honoured up to this

    private const RETRYABLE_STATUSES = [408, 409, 429, 500, 502, 503, 504];

    /**
     * Whether $error may be retried. A POST only when it carries an Idempotency-Key (the server
     * then answers a repeat with the first result instead of running the model twice).
     */
    public static function shouldRetry(APIException $error, string $method, bool $hasIdempotencyKey): bool
    {
        if ($method === 'POST' && !$hasIdempotencyKey) {
            return false;
        }
        if ($error instanceof APIStatusException) {
            $status = (int) $error->getStatus();
            if (!in_array($status, self::RETRYABLE_STATUSES, true)) {
                return false;
            }
            return match ($status) {
                409 => $error->getErrorCode() === 'idempotency_key_in_use',
                429 => $error->getErrorCode() !== 'insufficient_quota', // the monthly limit: retrying cannot help
                default => true,
            };
        }
        if ($error instanceof APIConnectionException) {
            $cause = $error->getPrevious();

            return !($cause instanceof \SparkAI\Transport\TransportException) || $cause->retryable;
        }

        return false;
    }

    /**
     * Seconds before retry number $attempt + 1 ($attempt counts from 0): the server's retry-after
     * (capped), else uniform(0, min(MAX_DELAY, INITIAL_DELAY * 2**attempt)).
     *
     * @param callable(): float|null $random a uniform number in [0, 1)
     */
    public static function delay(int $attempt, ?float $retryAfter, ?callable $random = null): float
    {
        if ($retryAfter !== null) {
            return min($retryAfter, self::MAX_RETRY_AFTER);
        }
        $ceiling = min(self::MAX_DELAY, self::INITIAL_DELAY * (2 ** min($attempt, 30)));
        $unit = $random !== null ? $random() : mt_rand() / (mt_getrandmax() + 1);

        return $unit * $ceiling;
    }

    /**
     * `retry-after` as seconds: delta-seconds ("2", "1.5") or an HTTP date (time until it, never
     * negative). Null when absent or unparseable.
     */
    public static function parseRetryAfter(?string $value, ?float $now = null): ?float
    {
        if ($value === null || ($value = trim($value)) === '') {
            return null;
        }
        if (is_numeric($value)) {
            $seconds = (float) $value;

            return is_finite($seconds) ? max(0.0, $seconds) : null;
        }
        $when = \DateTimeImmutable::createFromFormat(\DateTimeInterface::RFC7231, $value, new \DateTimeZone('UTC'));
        if ($when === false) {
            $timestamp = strtotime($value);
            if ($timestamp === false || !preg_match('/\d{4}/', $value)) {
                return null;
            }
        } else {
            $timestamp = $when->getTimestamp();
        }

        return max(0.0, $timestamp - ($now ?? microtime(true)));
    }
}
