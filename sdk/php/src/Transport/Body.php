<?php

declare(strict_types=1);

namespace SparkAI\Transport;

/** A response body read incrementally. */
interface Body
{
    /**
     * The next bytes of the body (never ""), or null at its end. Blocks until some arrive.
     *
     * @throws TransportException when the connection breaks or the wait times out
     */
    public function read(): ?string;

    /** Abort the transfer (closes the connection); reading afterwards returns null. */
    public function close(): void;
}
