<?php

declare(strict_types=1);

namespace SparkAI\Transport;

/** A transport-level failure; the client turns it into APIConnectionException/APITimeoutException. */
final class TransportException extends \RuntimeException
{
    public function __construct(
        string $message,
        public readonly bool $timedOut = false,
        public readonly bool $retryable = true,
        ?\Throwable $previous = null,
    ) {
        parent::__construct($message, 0, $previous);
    }
}
