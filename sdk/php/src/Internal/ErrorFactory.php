<?php

declare(strict_types=1);

namespace SparkAI\Internal;

use SparkAI\Exception\APIConnectionException;
use SparkAI\Exception\APIStatusException;
use SparkAI\Exception\APITimeoutException;
use SparkAI\Exception\AuthenticationException;
use SparkAI\Exception\BadRequestException;
use SparkAI\Exception\ConflictException;
use SparkAI\Exception\InternalServerException;
use SparkAI\Exception\NotFoundException;
use SparkAI\Exception\PermissionDeniedException;
use SparkAI\Exception\RateLimitException;
use SparkAI\Exception\RequestTooLargeException;
use SparkAI\Exception\StreamException;
use SparkAI\Exception\UnprocessableEntityException;
use SparkAI\Transport\Response;
use SparkAI\Transport\TransportException;

/**
 * The one place that turns error answers, error events and transport failures into typed
 * exceptions.
 *
 * @internal
 */
final class ErrorFactory
{
    private const BY_STATUS = [
        400 => BadRequestException::class,
        401 => AuthenticationException::class,
        403 => PermissionDeniedException::class,
        404 => NotFoundException::class,
        409 => ConflictException::class,
        413 => RequestTooLargeException::class,
        422 => UnprocessableEntityException::class,
        429 => RateLimitException::class,
    ];

    // API Gateway answers some errors itself (e.g. 403 "Forbidden"); it names the request differently.
    private const REQUEST_ID_HEADERS = ['x-request-id', 'x-amzn-requestid', 'apigw-requestid', 'x-amz-apigw-id'];

    /** @param array<string, string> $headers lower-case names */
    public static function requestId(array $headers): ?string
    {
        foreach (self::REQUEST_ID_HEADERS as $name) {
            if (($headers[$name] ?? '') !== '') {
                return $headers[$name];
            }
        }

        return null;
    }

    /** The typed exception for an error answer whose body has been read. */
    public static function fromResponse(Response $response, string $content): APIStatusException
    {
        $body = null;
        if (trim($content) !== '') {
            $decoded = json_decode($content, true, 64, JSON_INVALID_UTF8_SUBSTITUTE | JSON_BIGINT_AS_STRING);
            $body = json_last_error() === JSON_ERROR_NONE ? $decoded : $content;
        }
        $fields = self::errorFields($body);
        $status = $response->status;
        $message = self::str($fields['message'] ?? null);
        if ($message === null) {
            $message = is_string($body) && trim($body) !== ''
                ? substr(trim($body), 0, 500)
                : "HTTP {$status}";
        }
        $class = self::BY_STATUS[$status] ?? ($status >= 500 ? InternalServerException::class : APIStatusException::class);

        return new $class(
            $message,
            $status,
            self::str($fields['type'] ?? null),
            self::str($fields['code'] ?? null),
            self::str($fields['param'] ?? null),
            self::requestId($response->headers),
            $response->headers,
            $body,
        );
    }

    /** @param array<string, mixed> $event a `data: {"error": ...}` event */
    public static function fromStreamEvent(array $event, ?string $requestId): StreamException
    {
        $fields = self::errorFields($event);

        return new StreamException(
            self::str($fields['message'] ?? null) ?? 'The stream failed.',
            null,
            self::str($fields['type'] ?? null),
            self::str($fields['code'] ?? null),
            self::str($fields['param'] ?? null),
            $requestId,
            [],
            $event,
        );
    }

    public static function fromTransport(TransportException $e, string $context = ''): APIConnectionException
    {
        $prefix = $context !== '' ? $context . ': ' : '';
        if ($e->timedOut) {
            return new APITimeoutException($prefix . 'Request timed out: ' . $e->getMessage(), previous: $e);
        }

        return new APIConnectionException($prefix . 'Connection error: ' . $e->getMessage(), previous: $e);
    }

    /** @return array<string, mixed> the documented {"error": {...}} object, or [] */
    private static function errorFields(mixed $body): array
    {
        if (!is_array($body)) {
            return [];
        }
        $error = $body['error'] ?? null;
        if (is_array($error)) {
            return $error;
        }
        if (is_string($error)) {
            return ['message' => $error];
        }
        if (is_string($body['message'] ?? null)) { // API Gateway's own {"message": "Forbidden"}
            return ['message' => $body['message']];
        }

        return [];
    }

    private static function str(mixed $value): ?string
    {
        return is_string($value) ? $value : null;
    }
}
