<?php

declare(strict_types=1);

namespace SparkAI\Type;

final class ChoiceDelta
{
    public function __construct(public readonly ?string $role = null, public readonly ?string $content = null)
    {
    }

    public static function fromArray(array $data): self
    {
        return new self(Data::optStr($data, 'role'), Data::optStr($data, 'content'));
    }
}
