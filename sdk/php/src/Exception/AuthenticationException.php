<?php

declare(strict_types=1);

namespace SparkAI\Exception;

/** 401: the API key is missing, invalid, revoked or expired. */
class AuthenticationException extends APIStatusException
{
}
