<?php

declare(strict_types=1);

namespace SparkAI\Resource;

use SparkAI\Exception\APIResponseValidationException;
use SparkAI\Internal\ErrorFactory;
use SparkAI\Transport\Response;

/** @internal */
final class Json
{
    /** The JSON object of a successful (already read) answer. @return array<string, mixed> */
    public static function object(Response $response): array
    {
        $content = $response->content();
        $data = json_decode($content, true, 64, JSON_INVALID_UTF8_SUBSTITUTE | JSON_BIGINT_AS_STRING);
        if (!is_array($data) || ($data !== [] && array_is_list($data))) {
            throw new APIResponseValidationException(
                'Expected a JSON object, got: ' . substr($content, 0, 200),
                $response->status,
                null,
                null,
                null,
                ErrorFactory::requestId($response->headers),
                $response->headers,
            );
        }

        return $data;
    }
}
