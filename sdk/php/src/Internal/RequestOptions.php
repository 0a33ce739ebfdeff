<?php

declare(strict_types=1);

namespace SparkAI\Internal;

/**
 * One API call. Null timeout / maxRetries mean the client's settings.
 *
 * @internal
 */
final class RequestOptions
{
    /**
     * @param array<string, scalar>|null $query
     * @param array<string, mixed>|null $json
     * @param array<string, string> $headers
     */
    public function __construct(
        public readonly string $method,
        public readonly string $path,
        public readonly ?array $query = null,
        public readonly ?array $json = null,
        public readonly bool $stream = false,
        public readonly array $headers = [],
        public readonly ?float $timeout = null,
        public readonly ?int $maxRetries = null,
    ) {
    }
}
