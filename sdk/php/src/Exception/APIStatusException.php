<?php

declare(strict_types=1);

namespace SparkAI\Exception;

/** The API answered with an error status (4xx/5xx) and the documented error body. */
class APIStatusException extends APIException
{
}
