<?php

declare(strict_types=1);

namespace SparkAI\Type;

/**
 * GET /v1/models; iterable and countable over its models.
 *
 * @implements \IteratorAggregate<int, Model>
 */
final class ModelList implements \IteratorAggregate, \Countable
{
    /** @param list<Model> $data */
    public function __construct(public readonly array $data, public readonly string $object = 'list', public readonly ?string $requestId = null)
    {
    }

    public static function fromArray(array $data, ?string $requestId = null): self
    {
        return new self(
            array_map(static fn (array $m): Model => Model::fromArray($m), Data::maps($data['data'] ?? null)),
            Data::str($data, 'object', 'list'),
            $requestId,
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

    /** @return list<string> */
    public function ids(): array
    {
        return array_map(static fn (Model $m): string => $m->id, $this->data);
    }
}
