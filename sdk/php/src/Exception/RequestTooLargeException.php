<?php

declare(strict_types=1);

namespace SparkAI\Exception;

/** 413: the request body is too large. */
class RequestTooLargeException extends APIStatusException
{
}
