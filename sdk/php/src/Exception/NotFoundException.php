<?php

declare(strict_types=1);

namespace SparkAI\Exception;

/** 404: unknown route or model. */
class NotFoundException extends APIStatusException
{
}
