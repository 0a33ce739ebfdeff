<?php

declare(strict_types=1);

namespace SparkAI\Transport;

/**
 * The real transport: ext-curl driven through curl_multi, so send() returns once the headers are
 * in and the body is pulled as it arrives (CURLOPT_WRITEFUNCTION appends to a buffer that
 * Response::read() drains). Nothing is buffered beyond what the network has delivered.
 */
final class CurlTransport implements TransportInterface
{
    /** @param array<int, mixed> $curlOptions extra curl_setopt options (proxy, CA file, ...) */
    public function __construct(private readonly array $curlOptions = [])
    {
    }

    public function send(Request $request): Response
    {
        $transfer = new CurlTransfer($request, $this->curlOptions);
        try {
            $transfer->waitForHeaders();
        } catch (\Throwable $e) {
            $transfer->close();
            throw $e;
        }

        return new Response($transfer->status(), $transfer->headers(), $transfer);
    }
}
