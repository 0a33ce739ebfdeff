<?php

declare(strict_types=1);

namespace SparkAI\Exception;

/** 403: the key may not use this resource. */
class PermissionDeniedException extends APIStatusException
{
}
