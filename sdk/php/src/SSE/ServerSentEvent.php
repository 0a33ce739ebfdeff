<?php

declare(strict_types=1);

namespace SparkAI\SSE;

final class ServerSentEvent
{
    public function __construct(
        public readonly string $data,
        public readonly string $event = 'message',
        public readonly ?string $id = null,
        public readonly ?int $retry = null,
    ) {
    }
}
