<?php

declare(strict_types=1);

namespace SparkAI\Exception;

/** The API could not be reached, or the connection broke. */
class APIConnectionException extends APIException
{
}
