<?php

declare(strict_types=1);

namespace SparkAI\Exception;

use SparkAI\Internal\RetryPolicy;

/**
 * Base class of every exception this SDK throws (the Python SDK's SparkAIError).
 *
 * Status errors fill status, type, code, param, request id and the answer's headers; connection
 * and stream errors leave what they cannot know null. Never holds the API key: only the
 * *response's* headers are kept.
 */
class APIException extends \RuntimeException implements \JsonSerializable
{
    /** @var array<string, string> lower-case header name => value */
    private array $headers;

    /**
     * @param array<string, string> $headers
     */
    public function __construct(
        string $message,
        private readonly ?int $status = null,
        private readonly ?string $errorType = null,
        private readonly ?string $errorCode = null,
        private readonly ?string $param = null,
        private readonly ?string $requestId = null,
        array $headers = [],
        private readonly mixed $body = null,
        ?\Throwable $previous = null,
    ) {
        parent::__construct($message, 0, $previous);
        $this->headers = array_change_key_case($headers, CASE_LOWER);
    }

    /** The HTTP status (null when no answer arrived, or for a failure mid-stream). */
    public function getStatus(): ?int
    {
        return $this->status;
    }

    /** The error body's `code`, e.g. "rate_limit_exceeded", "invalid_api_key". */
    public function getErrorCode(): ?string
    {
        return $this->errorCode;
    }

    /** The error body's `type`, e.g. "invalid_request_error", or "requests"/"tokens" on a 429. */
    public function getErrorType(): ?string
    {
        return $this->errorType;
    }

    /** The error body's `param`: the request field that was wrong. */
    public function getParam(): ?string
    {
        return $this->param;
    }

    /** The `x-request-id` of the answer: quote it to support. */
    public function getRequestId(): ?string
    {
        return $this->requestId;
    }

    /** Seconds from the answer's `retry-after` header (429s and 503s send it), or null. */
    public function getRetryAfter(): ?float
    {
        return RetryPolicy::parseRetryAfter($this->headers['retry-after'] ?? null);
    }

    /** @return array<string, string> the answer's headers, lower-case names */
    public function getHeaders(): array
    {
        return $this->headers;
    }

    /** The decoded error body (array), its raw text when it was not JSON, or null. */
    public function getBody(): mixed
    {
        return $this->body;
    }

    public function __toString(): string
    {
        $details = [];
        if ($this->status !== null) {
            $details[] = "status {$this->status}";
        }
        if ($this->errorCode !== null) {
            $details[] = "code {$this->errorCode}";
        }
        if ($this->param !== null) {
            $details[] = "param {$this->param}";
        }
        if ($this->requestId !== null) {
            $details[] = "request_id {$this->requestId}";
        }
        $text = static::class . ': ' . $this->getMessage();

        return $details ? $text . ' (' . implode(', ', $details) . ')' : $text;
    }

    /** @return array<string, mixed> */
    public function jsonSerialize(): array
    {
        return [
            'class' => static::class,
            'message' => $this->getMessage(),
            'status' => $this->status,
            'type' => $this->errorType,
            'code' => $this->errorCode,
            'param' => $this->param,
            'request_id' => $this->requestId,
        ];
    }

    /** var_dump()/print_r() show the fields, not the stack's arguments. */
    public function __debugInfo(): array
    {
        return $this->jsonSerialize() + ['retry_after' => $this->getRetryAfter()];
    }

    /**
     * serialize() keeps the fields and drops the stack trace: its frames' arguments may hold
     * anything (objects that refuse serialisation, values the caller never meant to persist).
     *
     * @return array<string, mixed>
     */
    public function __serialize(): array
    {
        return $this->jsonSerialize() + ['headers' => $this->headers, 'body' => $this->body];
    }

    /** @param array<string, mixed> $data */
    public function __unserialize(array $data): void
    {
        $this->message = (string) ($data['message'] ?? '');
        $this->status = $data['status'] ?? null;
        $this->errorType = $data['type'] ?? null;
        $this->errorCode = $data['code'] ?? null;
        $this->param = $data['param'] ?? null;
        $this->requestId = $data['request_id'] ?? null;
        $this->headers = $data['headers'] ?? [];
        $this->body = $data['body'] ?? null;
    }
}
