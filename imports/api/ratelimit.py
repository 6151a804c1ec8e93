"""Per token and per feature: 10 requests in a fixed 10-minute window (SPEC 6).

The count lives where every web process sees it: in Redis when REDIS_URL is set, else in the
database, incremented by one atomic statement (services.api_request_count). Process memory
would let each process allow its own 10.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis
from django.conf import settings
from django.http import HttpResponse

from imports import services
from imports.api import errors

logger = logging.getLogger(__name__)

LIMIT = 10
WINDOW_SECONDS = 600
# A Redis key outlives its window a little, so a slow request near the end still finds it.
_REDIS_KEY_SLACK_SECONDS = 60


def clock() -> float:
    """The current unix time (tests stop it)."""
    return time.time()


@dataclass(frozen=True)
class Quota:
    """Where a token stands in the current window after counting one more request."""

    count: int
    reset: int  # unix time the window ends
    now: float

    @property
    def allowed(self) -> bool:
        return self.count <= LIMIT

    @property
    def remaining(self) -> int:
        return max(0, LIMIT - self.count)

    @property
    def retry_after(self) -> int:
        return max(1, math.ceil(self.reset - self.now))

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(LIMIT),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }


def rate_limit_hit(*, feature: str, token_digest: str, now: float | None = None) -> Quota:
    """Count one request of the token to the feature."""
    now = clock() if now is None else now
    window_start = int(now // WINDOW_SECONDS) * WINDOW_SECONDS
    if settings.REDIS_URL:
        count = _redis_count(settings.REDIS_URL, _redis_key(feature, token_digest, window_start))
    else:
        count = services.api_request_count(feature=feature, token_digest=token_digest, window_start=window_start)
    return Quota(count=count, reset=window_start + WINDOW_SECONDS, now=now)


def rate_limit_refund(*, feature: str, token_digest: str, quota: Quota) -> Quota:
    """Take back a counted request that the server failed (a 5xx is not the client's doing)."""
    window_start = quota.reset - WINDOW_SECONDS
    if settings.REDIS_URL:
        _redis(settings.REDIS_URL).decr(_redis_key(feature, token_digest, window_start))
    else:
        services.api_request_uncount(feature=feature, token_digest=token_digest, window_start=window_start)
    return Quota(count=quota.count - 1, reset=quota.reset, now=quota.now)


def _redis_key(feature: str, token_digest: str, window_start: int) -> str:
    return f"repro:ratelimit:{feature}:{token_digest}:{window_start}"


def _redis_count(url: str, key: str) -> int:
    pipeline = _redis(url).pipeline(transaction=True)  # MULTI/EXEC: both commands or neither
    pipeline.incr(key)
    pipeline.expire(key, WINDOW_SECONDS + _REDIS_KEY_SLACK_SECONDS)
    count, _ = pipeline.execute()
    return count


@functools.lru_cache(maxsize=4)
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


def rate_limited(feature: str) -> Callable:
    """Count every authenticated request to the view: its response, an error one too, carries the
    three X-RateLimit headers; over the limit the view does not run and the answer is 429.

    A request the server fails is not counted: an unexpected error (storage down, a bug) is
    logged and answered 503, and like any other 5xx it gives its request back.
    """

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs) -> HttpResponse:
            digest = request.auth.token_digest
            quota = rate_limit_hit(feature=feature, token_digest=digest)
            if not quota.allowed:
                response = errors.too_many_requests(quota.retry_after)
            else:
                try:
                    response = view(request, *args, **kwargs)
                except errors.ApiError as exc:
                    response = exc.response
                except Exception:
                    logger.exception("API request to %s failed", request.path)
                    response = errors.service_unavailable(errors.MESSAGE_SERVER_FAULT)
                if response.status_code >= 500:
                    quota = rate_limit_refund(feature=feature, token_digest=digest, quota=quota)
            for name, value in quota.headers().items():
                response[name] = value
            return response

        return wrapper

    return decorator
