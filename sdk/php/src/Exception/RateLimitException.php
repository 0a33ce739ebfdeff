<?php

declare(strict_types=1);

namespace SparkAI\Exception;

/** 429: a request/token budget is spent (type "requests"/"tokens"), or the monthly spend limit (code insufficient_quota, never retried). */
class RateLimitException extends APIStatusException
{
}
