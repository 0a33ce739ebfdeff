<?php

declare(strict_types=1);

namespace SparkAI\Exception;

/** A successful answer whose body is not the JSON this SDK expects. */
class APIResponseValidationException extends APIException
{
}
