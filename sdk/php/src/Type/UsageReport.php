<?php

declare(strict_types=1);

namespace SparkAI\Type;

/**
 * GET /v1/usage: per day, model and key, with totals and the account's spend limit. Money fields
 * are exact decimal strings ("0.0123"); $spendLimitUsd is null when the account has none.
 *
 * @implements \IteratorAggregate<int, UsageRow>
 */
final class UsageReport implements \IteratorAggregate, \Countable
{
    /** @param list<UsageRow> $data */
    public function __construct(
        public readonly string $start,
        public readonly string $end,
        public readonly array $data,
        public readonly UsageTotals $totals,
        public readonly ?string $spendLimitUsd,
        public readonly string $monthToDateUsd,
        public readonly string $object = 'usage',
        public readonly ?string $requestId = null,
        private readonly array $raw = [],
    ) {
    }

    public static function fromArray(array $data, ?string $requestId = null): self
    {
        return new self(
            Data::str($data, 'start'),
            Data::str($data, 'end'),
            array_map(static fn (array $row): UsageRow => UsageRow::fromArray($row), Data::maps($data['data'] ?? null)),
            UsageTotals::fromArray(Data::map($data['totals'] ?? null)),
            Data::decimal($data, 'spend_limit_usd'),
            Data::decimal($data, 'month_to_date_usd') ?? '0',
            Data::str($data, 'object', 'usage'),
            $requestId,
            $data,
        );
    }

    public function getIterator(): \ArrayIterator
    {
        return new \ArrayIterator($this->data);
    }

    public function count(): int
    {
        return count($this->data);
    }

    public function toArray(): array
    {
        return $this->raw;
    }
}
