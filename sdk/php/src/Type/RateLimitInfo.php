<?php

declare(strict_types=1);

namespace SparkAI\Type;

/** The x-ratelimit-* headers of an answer. Reset values are in seconds. */
final class RateLimitInfo
{
    private const UNITS = ['ns' => 1e-9, 'us' => 1e-6, 'µs' => 1e-6, 'ms' => 1e-3, 's' => 1.0, 'm' => 60.0, 'h' => 3600.0];

    public function __construct(
        public readonly ?int $limitRequests = null,
        public readonly ?int $remainingRequests = null,
        public readonly ?float $resetRequests = null,
        public readonly ?int $limitTokens = null,
        public readonly ?int $remainingTokens = null,
        public readonly ?float $resetTokens = null,
    ) {
    }

    /**
     * Null when the answer carries no rate-limit headers at all.
     *
     * @param array<string, string> $headers lower-case names
     */
    public static function fromHeaders(array $headers): ?self
    {
        $info = new self(
            self::headerInt($headers, 'x-ratelimit-limit-requests'),
            self::headerInt($headers, 'x-ratelimit-remaining-requests'),
            self::parseDuration($headers['x-ratelimit-reset-requests'] ?? null),
            self::headerInt($headers, 'x-ratelimit-limit-tokens'),
            self::headerInt($headers, 'x-ratelimit-remaining-tokens'),
            self::parseDuration($headers['x-ratelimit-reset-tokens'] ?? null),
        );

        return $info == new self() ? null : $info;
    }

    /** A reset duration as seconds: "20ms" -> 0.02, "1.5s" -> 1.5, "6m0s" -> 360.0, "7" -> 7.0. */
    public static function parseDuration(?string $value): ?float
    {
        if ($value === null || ($text = trim($value)) === '') {
            return null;
        }
        if (is_numeric($text)) {
            return max(0.0, (float) $text);
        }
        if (preg_match_all('/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|h|m|s)/u', $text, $matches, PREG_SET_ORDER | PREG_OFFSET_CAPTURE) === 0) {
            return null;
        }
        $total = 0.0;
        $position = 0;
        foreach ($matches as $match) {
            if ($match[0][1] !== $position) {
                return null;
            }
            $total += (float) $match[1][0] * self::UNITS[$match[2][0]];
            $position += strlen($match[0][0]);
        }

        return $position === strlen($text) ? $total : null;
    }

    private static function headerInt(array $headers, string $name): ?int
    {
        $value = isset($headers[$name]) ? trim($headers[$name]) : null;

        return $value !== null && preg_match('/^-?\d+$/', $value) === 1 ? (int) $value : null;
    }
}
