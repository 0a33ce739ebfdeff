"""Rate-limit headers in OpenAI's form, on every answer that went through the limiter."""

from __future__ import annotations

from sparkai.limits import RateLimitStatus


def format_duration(seconds: float) -> str:
    """OpenAI's reset format: '20ms', '1.5s', '6m0s'."""
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        return f"{max(1, round(seconds * 1000))}ms"
    if seconds < 60:
        return f"{seconds:.3g}s" if seconds < 10 else f"{seconds:.1f}".rstrip("0").rstrip(".") + "s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m{rest:.0f}s"


def rate_limit_headers(status: RateLimitStatus) -> dict[str, str]:
    return {
        "x-ratelimit-limit-requests": str(status.requests.limit),
        "x-ratelimit-remaining-requests": str(status.requests.remaining),
        "x-ratelimit-reset-requests": format_duration(status.requests.reset_seconds),
        "x-ratelimit-limit-tokens": str(status.tokens.limit),
        "x-ratelimit-remaining-tokens": str(status.tokens.remaining),
        "x-ratelimit-reset-tokens": format_duration(status.tokens.reset_seconds),
    }
