<?php

declare(strict_types=1);

namespace SparkAI\Exception;

/** 409: e.g. idempotency_key_in_use (the same Idempotency-Key is still being processed). */
class ConflictException extends APIStatusException
{
}
