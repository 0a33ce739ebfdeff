<?php

declare(strict_types=1);

namespace SparkAI\Exception;

/** The stream failed after it started: an error event arrived (its code, type, message), or it ended before [DONE] (code stream_incomplete). */
class StreamException extends APIException
{
}
