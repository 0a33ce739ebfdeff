<?php

declare(strict_types=1);

namespace SparkAI\Resource;

use SparkAI\Client;
use SparkAI\Internal\ErrorFactory;
use SparkAI\Internal\RequestOptions;
use SparkAI\Type\Model;
use SparkAI\Type\ModelList;

/** GET /v1/models and /v1/models/{id}. */
final class Models
{
    public const PATH = '/v1/models';

    public function __construct(private readonly Client $client)
    {
    }

    /** @param array{timeout?: float, max_retries?: int} $options */
    public function list(array $options = []): ModelList
    {
        $response = $this->client->request(self::options(self::PATH, $options));

        return ModelList::fromArray(Json::object($response), ErrorFactory::requestId($response->headers));
    }

    /** @param array{timeout?: float, max_retries?: int} $options */
    public function retrieve(string $id, array $options = []): Model
    {
        if ($id === '') {
            throw new \InvalidArgumentException('The model id must be a non-empty string.');
        }
        $response = $this->client->request(self::options(self::PATH . '/' . rawurlencode($id), $options));

        return Model::fromArray(Json::object($response), ErrorFactory::requestId($response->headers));
    }

    /** @param array<string, mixed> $options */
    private static function options(string $path, array $options): RequestOptions
    {
        return new RequestOptions(
            'GET',
            $path,
            timeout: isset($options['timeout']) ? Client::timeout($options['timeout']) : null,
            maxRetries: isset($options['max_retries']) ? Client::retries($options['max_retries']) : null,
        );
    }
}
