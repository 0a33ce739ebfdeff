<?php

declare(strict_types=1);

namespace SparkAI\Exception;

/** 500 and above: server, model or dependency failure (often transient). */
class InternalServerException extends APIStatusException
{
}
