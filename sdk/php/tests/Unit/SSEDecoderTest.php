<?php

declare(strict_types=1);

namespace SparkAI\Tests\Unit;

use PHPUnit\Framework\TestCase;
use SparkAI\SSE\SSEDecoder;

final class SSEDecoderTest extends TestCase
{
    /** @param list<string> $pieces @return list<string> */
    private static function decode(array $pieces): array
    {
        $decoder = new SSEDecoder();
        $events = [];
        foreach ($pieces as $piece) {
            array_push($events, ...$decoder->feed($piece));
        }
        array_push($events, ...$decoder->flush());

        return array_map(static fn ($e) => $e->data, $events);
    }

    public function testACrlfSplitBetweenCrAndLfInsideAMultiLineEventIsOneLineEnd(): void
    {
        // Were the lone CR taken as a line end, the LF after it would end the event early.
        self::assertSame(["a\nb"], self::decode(["data: a\r", "\ndata: b\r\n\r\n"]));
    }

    public function testCrOnlyAndLfOnlyLineEnds(): void
    {
        self::assertSame(['x', 'y'], self::decode(["data: x\r\rdata: y\n\n"]));
    }

    public function testUtf8SplitInsideACharacterIsReassembled(): void
    {
        $body = "data: {\"t\":\"日本 👋\"}\n\n";
        foreach (range(1, strlen($body) - 1) as $cut) {
            self::assertSame(['{"t":"日本 👋"}'], self::decode([substr($body, 0, $cut), substr($body, $cut)]), "cut at {$cut}");
        }
    }

    public function testCommentsAndBlankEventsYieldNothing(): void
    {
        self::assertSame(['1'], self::decode([": ping\n\n\n\ndata: 1\n\n: ping - 2026\n\n"]));
    }

    public function testABomSplitAcrossReadsIsDropped(): void
    {
        self::assertSame(['1'], self::decode(["\xEF", "\xBB", "\xBFdata: 1\n\n"]));
    }

    public function testFieldWithoutSpaceAndOtherFields(): void
    {
        $decoder = new SSEDecoder();
        $events = $decoder->feed("event: error\nid: 7\nretry: 100\ndata:x\n\n");
        self::assertCount(1, $events);
        self::assertSame(['x', 'error', '7', 100], [$events[0]->data, $events[0]->event, $events[0]->id, $events[0]->retry]);
    }

    public function testTheLastEventWithoutItsBlankLineIsDeliveredAtTheEnd(): void
    {
        self::assertSame(['[DONE]'], self::decode(['data: [DONE]']));
    }
}
