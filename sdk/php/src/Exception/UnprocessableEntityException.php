<?php

declare(strict_types=1);

namespace SparkAI\Exception;

/** 422: e.g. idempotency_key_reused (the same Idempotency-Key with a different body). */
class UnprocessableEntityException extends APIStatusException
{
}
