from datetime import timedelta

from django.conf import settings
from rest_framework import throttling

from veritas import ratelimit

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class UserWriteRateThrottle(throttling.BaseThrottle):
    """At most API_USER_WRITES_PER_MINUTE writes (POST, PUT, PATCH, DELETE) per user and
    minute, counted in PostgreSQL (veritas/ratelimit.py), so the limit holds across every
    process. Reads are not counted here: they cost a query per request more than a cache
    and are better limited at the load balancer. The schema documents 429 on exactly the
    operations ``documents_429`` names."""

    window = timedelta(minutes=1)

    @classmethod
    def documents_429(cls, method: str) -> bool:
        return method.upper() in UNSAFE_METHODS and settings.API_USER_WRITES_PER_MINUTE > 0

    def allow_request(self, request, view):
        limit = settings.API_USER_WRITES_PER_MINUTE
        if request.method not in UNSAFE_METHODS or not limit or not request.user.is_authenticated:
            return True
        self.result = ratelimit.hit(f"user:{request.user.pk}:writes", [ratelimit.Window(limit, self.window)])
        return self.result.allowed

    def wait(self):
        return self.result.retry_after
