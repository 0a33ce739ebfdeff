<?php

declare(strict_types=1);

namespace SparkAI\Type;

/** A chat message; also accepted (like a plain ['role' => ..., 'content' => ...] array) in 'messages'. */
final class ChatMessage implements \JsonSerializable
{
    public function __construct(
        public readonly string $role,
        public readonly string $content,
        public readonly ?string $name = null,
    ) {
    }

    public static function fromArray(array $data): self
    {
        return new self(Data::str($data, 'role', 'assistant'), Data::str($data, 'content'), Data::optStr($data, 'name'));
    }

    /** @return array<string, string> */
    public function toArray(): array
    {
        $message = ['role' => $this->role, 'content' => $this->content];
        if ($this->name !== null) {
            $message['name'] = $this->name;
        }

        return $message;
    }

    public function jsonSerialize(): array
    {
        return $this->toArray();
    }
}
