<?php

declare(strict_types=1);

namespace SparkAI\Resource;

use SparkAI\Client;
use SparkAI\Internal\ErrorFactory;
use SparkAI\Internal\RequestOptions;
use SparkAI\Type\UsageReport;

/** GET /v1/usage: the account's usage per day, model and key, and its spend. */
final class Usage
{
    public const PATH = '/v1/usage';

    public function __construct(private readonly Client $client)
    {
    }

    /**
     * 'start' / 'end': inclusive dates ('YYYY-MM-DD' or a DateTimeInterface, taken as its
     * calendar date); both optional (the server defaults to this UTC month so far).
     *
     * @param array{start?: string|\DateTimeInterface, end?: string|\DateTimeInterface, timeout?: float, max_retries?: int} $params
     */
    public function retrieve(array $params = []): UsageReport
    {
        $unknown = array_diff(array_keys($params), ['start', 'end', 'timeout', 'max_retries']);
        if ($unknown) {
            throw new \InvalidArgumentException('Unknown usage parameter(s): ' . implode(', ', $unknown) . '.');
        }
        $query = [];
        foreach (['start', 'end'] as $name) {
            $value = $params[$name] ?? null;
            if ($value instanceof \DateTimeInterface) {
                $value = $value->format('Y-m-d');
            }
            if ($value !== null) {
                if (!is_string($value)) {
                    throw new \InvalidArgumentException("'{$name}' must be a 'YYYY-MM-DD' string or a DateTimeInterface.");
                }
                $query[$name] = $value;
            }
        }
        $response = $this->client->request(new RequestOptions(
            'GET',
            self::PATH,
            $query,
            timeout: isset($params['timeout']) ? Client::timeout($params['timeout']) : null,
            maxRetries: isset($params['max_retries']) ? Client::retries($params['max_retries']) : null,
        ));

        return UsageReport::fromArray(Json::object($response), ErrorFactory::requestId($response->headers));
    }
}
