<?php

declare(strict_types=1);

namespace SparkAI\Transport;

/**
 * One transfer on its own curl multi handle, pumped only when the caller wants bytes. The timeout
 * is per wait (connect, first byte, every next piece), like the Python SDK's read timeout: a
 * stream may run for minutes as long as something arrives.
 *
 * @internal
 */
final class CurlTransfer implements Body
{
    // Wrong URL or scheme: retrying cannot help. Everything else (refused, reset, DNS, timeout) may.
    private const NOT_RETRYABLE = [CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT];

    private ?\CurlMultiHandle $multi;
    private ?\CurlHandle $handle;
    private string $buffer = '';
    private int $status = 0;
    /** @var array<string, string> */
    private array $headers = [];
    private bool $headersDone = false;
    private bool $finished = false;
    private ?TransportException $error = null;
    private int $lastActivity;

    /** @param array<int, mixed> $curlOptions */
    public function __construct(private readonly Request $request, array $curlOptions)
    {
        $handle = curl_init();
        $headers = ['Expect:']; // no "100-continue" round trip before larger bodies
        foreach ($request->headers() as $name => $value) {
            $headers[] = $name . ': ' . $value;
        }
        $timeoutMs = max(1, (int) ceil($request->timeout * 1000));
        $options = [
            CURLOPT_URL => $request->url,
            CURLOPT_CUSTOMREQUEST => $request->method,
            CURLOPT_HTTPHEADER => $headers,
            CURLOPT_HEADERFUNCTION => $this->onHeader(...),
            CURLOPT_WRITEFUNCTION => $this->onWrite(...),
            CURLOPT_CONNECTTIMEOUT_MS => $timeoutMs,
            CURLOPT_FOLLOWLOCATION => false,
            CURLOPT_NOSIGNAL => true,
            CURLOPT_TCP_NODELAY => true,
            CURLOPT_ENCODING => '', // accept any encoding curl can decode
        ];
        if (defined('CURLOPT_PROTOCOLS_STR')) {
            $options[CURLOPT_PROTOCOLS_STR] = 'http,https';
        } else {
            $options[CURLOPT_PROTOCOLS] = CURLPROTO_HTTP | CURLPROTO_HTTPS;
        }
        if ($request->body !== null) {
            $options[CURLOPT_POSTFIELDS] = $request->body;
        } elseif ($request->method === 'GET') {
            $options[CURLOPT_HTTPGET] = true;
        }
        curl_setopt_array($handle, $curlOptions + $options);
        $this->handle = $handle;
        $this->multi = curl_multi_init();
        curl_multi_add_handle($this->multi, $handle);
        $this->lastActivity = hrtime(true);
    }

    public function __destruct()
    {
        $this->close();
    }

    /** @throws TransportException */
    public function waitForHeaders(): void
    {
        $this->pumpUntil(fn (): bool => $this->headersDone);
        if (!$this->headersDone) {
            throw $this->error ?? new TransportException('The connection closed before an answer arrived.');
        }
    }

    public function status(): int
    {
        return $this->status;
    }

    /** @return array<string, string> */
    public function headers(): array
    {
        return $this->headers;
    }

    public function read(): ?string
    {
        if ($this->buffer === '' && $this->multi !== null) {
            $this->pumpUntil(fn (): bool => $this->buffer !== '');
        }
        if ($this->buffer !== '') {
            $data = $this->buffer;
            $this->buffer = '';

            return $data;
        }
        if ($this->error !== null) {
            $error = $this->error;
            $this->close();
            throw $error;
        }
        $this->close();

        return null;
    }

    public function close(): void
    {
        if ($this->multi !== null && $this->handle !== null) {
            curl_multi_remove_handle($this->multi, $this->handle);
            curl_close($this->handle); // closes the connection: the server sees the client go
            curl_multi_close($this->multi);
        }
        $this->multi = null;
        $this->handle = null;
    }

    /** Drive curl until $done() holds or the transfer ends (or the wait times out). */
    private function pumpUntil(callable $done): void
    {
        $timeoutNs = (int) ($this->request->timeout * 1e9);
        while (!$done() && !$this->finished && $this->multi !== null) {
            do {
                $code = curl_multi_exec($this->multi, $running);
            } while ($code === CURLM_CALL_MULTI_PERFORM);
            $this->collectResult();
            if ($done() || $this->finished) {
                return;
            }
            if (hrtime(true) - $this->lastActivity > $timeoutNs) {
                $this->finish(new TransportException(
                    sprintf('Timed out after %.1f s waiting for the answer.', $this->request->timeout),
                    timedOut: true,
                ));

                return;
            }
            if (curl_multi_select($this->multi, 0.25) === -1) {
                usleep(1000); // select failed (no fds yet): do not spin
            }
        }
    }

    private function collectResult(): void
    {
        while ($this->multi !== null && ($info = curl_multi_info_read($this->multi)) !== false) {
            if (($info['msg'] ?? null) !== CURLMSG_DONE) {
                continue;
            }
            $result = $info['result'];
            if ($result === CURLE_OK) {
                $this->finish(null);
                continue;
            }
            $detail = curl_error($this->handle) ?: curl_strerror($result);
            $this->finish(new TransportException(
                sprintf('%s (curl error %d)', $detail, $result),
                timedOut: $result === CURLE_OPERATION_TIMEDOUT,
                retryable: !in_array($result, self::NOT_RETRYABLE, true),
            ));
        }
    }

    private function finish(?TransportException $error): void
    {
        $this->finished = true;
        $this->error = $error;
        if ($error !== null) {
            // Stop the transfer now; bytes already buffered are still handed out first.
            $buffer = $this->buffer;
            $this->close();
            $this->buffer = $buffer;
        }
    }

    private function onHeader(\CurlHandle $handle, string $line): int
    {
        $this->lastActivity = hrtime(true);
        $trimmed = rtrim($line, "\r\n");
        if (preg_match('#^HTTP/\S+\s+(\d{3})#', $trimmed, $match) === 1) {
            // A new status line: an interim (1xx) answer came first, or a new answer starts.
            $this->status = (int) $match[1];
            $this->headers = [];
            $this->headersDone = false;
        } elseif ($trimmed === '') {
            $this->headersDone = $this->status >= 200;
        } elseif (str_contains($trimmed, ':')) {
            [$name, $value] = explode(':', $trimmed, 2);
            $name = strtolower(trim($name));
            $value = trim($value);
            $this->headers[$name] = isset($this->headers[$name]) ? $this->headers[$name] . ', ' . $value : $value;
        }

        return strlen($line);
    }

    private function onWrite(\CurlHandle $handle, string $data): int
    {
        $this->lastActivity = hrtime(true);
        $this->headersDone = true;
        $this->buffer .= $data;

        return strlen($data);
    }
}
