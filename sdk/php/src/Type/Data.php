<?php

declare(strict_types=1);

namespace SparkAI\Type;

/**
 * Lenient readers for the API's JSON: a missing or mistyped field gets a default instead of a
 * TypeError, so a new or odd field on the server never breaks a client.
 *
 * @internal
 */
final class Data
{
    public static function str(array $data, string $key, string $default = ''): string
    {
        return is_string($data[$key] ?? null) ? $data[$key] : $default;
    }

    public static function optStr(array $data, string $key): ?string
    {
        return is_string($data[$key] ?? null) ? $data[$key] : null;
    }

    public static function int(array $data, string $key, int $default = 0): int
    {
        return is_int($data[$key] ?? null) ? $data[$key] : $default;
    }

    public static function optInt(array $data, string $key): ?int
    {
        return is_int($data[$key] ?? null) ? $data[$key] : null;
    }

    /** A decimal amount kept as its exact string ("0.0003"); never a float. */
    public static function decimal(array $data, string $key): ?string
    {
        $value = $data[$key] ?? null;
        if (is_string($value) && is_numeric($value)) {
            return $value;
        }
        if (is_int($value)) {
            return (string) $value;
        }

        return null;
    }

    public static function map(mixed $value): array
    {
        return is_array($value) && !array_is_list($value) ? $value : [];
    }

    /** @return list<array<string, mixed>> */
    public static function maps(mixed $value): array
    {
        if (!is_array($value) || !array_is_list($value)) {
            return [];
        }

        return array_values(array_filter($value, static fn ($item): bool => is_array($item) && ($item === [] || !array_is_list($item))));
    }
}
