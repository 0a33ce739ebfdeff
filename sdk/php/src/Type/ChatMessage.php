<?php

declare(strict_types=1);

namespace SparkAI\Type;

/**
 * A chat message; also accepted (like a plain ['role' => ..., 'content' => ...] array) in 'messages'.
 * An assistant message that calls tools has $toolCalls and a null $content; a 'tool' message
 * answers the call whose id is its $toolCallId.
 */
final class ChatMessage implements \JsonSerializable
{
    /** @param list<ToolCall>|null $toolCalls */
    public function __construct(
        public readonly string $role,
        public readonly ?string $content,
        public readonly ?string $name = null,
        public readonly ?array $toolCalls = null,
        public readonly ?string $toolCallId = null,
    ) {
    }

    public static function fromArray(array $data): self
    {
        // null stays null (a tool-calling answer); an absent field reads as ''.
        $content = array_key_exists('content', $data) && $data['content'] === null ? null : Data::str($data, 'content');

        return new self(
            Data::str($data, 'role', 'assistant'),
            $content,
            Data::optStr($data, 'name'),
            ToolCall::listFrom($data['tool_calls'] ?? null),
            Data::optStr($data, 'tool_call_id'),
        );
    }

    /** @return array<string, mixed> */
    public function toArray(): array
    {
        $message = ['role' => $this->role, 'content' => $this->content];
        if ($this->name !== null) {
            $message['name'] = $this->name;
        }
        if ($this->toolCalls !== null) {
            $message['tool_calls'] = array_map(static fn (ToolCall $call): array => $call->toArray(), $this->toolCalls);
        }
        if ($this->toolCallId !== null) {
            $message['tool_call_id'] = $this->toolCallId;
        }

        return $message;
    }

    public function jsonSerialize(): array
    {
        return $this->toArray();
    }
}
