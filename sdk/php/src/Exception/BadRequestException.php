<?php

declare(strict_types=1);

namespace SparkAI\Exception;

/** 400: an invalid parameter (see getParam() and getErrorCode()). */
class BadRequestException extends APIStatusException
{
}
