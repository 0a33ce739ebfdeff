<?php

declare(strict_types=1);

namespace SparkAI\Exception;

/** The request (or the wait for the next streamed bytes) timed out. */
class APITimeoutException extends APIConnectionException
{
}
