<?php

declare(strict_types=1);

namespace SparkAI\Transport;

/**
 * Sends one HTTP request. Returns as soon as the status and headers are in; the body is pulled
 * from the Response piece by piece (that is what lets a Stream yield chunks as they arrive).
 * CurlTransport is the real one; tests pass a fake, so unit tests need no network.
 */
interface TransportInterface
{
    /** @throws TransportException when no answer arrives (refused, reset, timed out, bad URL). */
    public function send(Request $request): Response;
}
