<?php

declare(strict_types=1);

namespace SparkAI\SSE;

/**
 * Incremental text/event-stream parser (WHATWG rules): bytes in, complete events out.
 *
 * Works on bytes: line ends are ASCII and never occur inside a multi-byte UTF-8 character, so a
 * read that ends inside one simply leaves the partial line (and character) in the buffer until the
 * rest arrives. Handles CR / LF / CRLF (a CRLF split across reads too), comment (keep-alive)
 * lines, multi-line data and a leading BOM.
 */
final class SSEDecoder
{
    private const BOM = "\xEF\xBB\xBF";

    private string $buffer = '';
    private bool $started = false;
    /** @var list<string> */
    private array $data = [];
    private string $event = '';
    private ?string $lastId = null;
    private ?int $retry = null;

    /** @return list<ServerSentEvent> the events completed by these bytes */
    public function feed(string $bytes): array
    {
        $this->buffer .= $bytes;
        if (!$this->started) {
            // The BOM may itself arrive split: wait until we can tell.
            if (strlen($this->buffer) < 3 && str_starts_with(self::BOM, $this->buffer)) {
                return [];
            }
            if (str_starts_with($this->buffer, self::BOM)) {
                $this->buffer = substr($this->buffer, 3);
            }
            $this->started = true;
        }

        return $this->consume(false);
    }

    /** End of input: the last line and a last event even without their terminators. */
    public function flush(): array
    {
        $this->started = true;
        $events = $this->consume(true);
        if ($this->buffer !== '') {
            array_push($events, ...$this->line($this->buffer));
            $this->buffer = '';
        }
        array_push($events, ...$this->line(''));

        return $events;
    }

    /** @return list<ServerSentEvent> */
    private function consume(bool $final): array
    {
        $events = [];
        $position = 0;
        $length = strlen($this->buffer);
        while ($position < $length) {
            $end = strcspn($this->buffer, "\r\n", $position) + $position;
            if ($end >= $length) {
                break; // no complete line left
            }
            $terminator = 1;
            if ($this->buffer[$end] === "\r") {
                if ($end + 1 < $length) {
                    $terminator = $this->buffer[$end + 1] === "\n" ? 2 : 1;
                } elseif (!$final) {
                    break; // a CR at the very end may be the first half of a CRLF
                }
            }
            array_push($events, ...$this->line(substr($this->buffer, $position, $end - $position)));
            $position = $end + $terminator;
        }
        $this->buffer = substr($this->buffer, $position);

        return $events;
    }

    /** @return list<ServerSentEvent> */
    private function line(string $line): array
    {
        if ($line === '') {
            return $this->dispatch();
        }
        if ($line[0] === ':') {
            return []; // comment: keep-alive
        }
        $colon = strpos($line, ':');
        if ($colon === false) {
            $name = $line;
            $value = '';
        } else {
            $name = substr($line, 0, $colon);
            $value = substr($line, $colon + 1);
            if (str_starts_with($value, ' ')) {
                $value = substr($value, 1);
            }
        }
        switch ($name) {
            case 'data':
                $this->data[] = $value;
                break;
            case 'event':
                $this->event = $value;
                break;
            case 'id':
                if (!str_contains($value, "\0")) {
                    $this->lastId = $value;
                }
                break;
            case 'retry':
                if ($value !== '' && ctype_digit($value)) {
                    $this->retry = (int) $value;
                }
                break;
        }

        return [];
    }

    /** @return list<ServerSentEvent> */
    private function dispatch(): array
    {
        if (!$this->data) {
            $this->event = '';

            return [];
        }
        $event = new ServerSentEvent(implode("\n", $this->data), $this->event !== '' ? $this->event : 'message', $this->lastId, $this->retry);
        $this->data = [];
        $this->event = '';

        return [$event];
    }
}
