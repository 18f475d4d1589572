"""Views that fail in each way the API can, mounted under /api/ for test_errors.py."""

from django.db import OperationalError, connection
from django.urls import include, path
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from veritas import urls as veritas_urls
from veritas.api.errors import Conflict


class ItemSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=10)
    size = serializers.IntegerField(min_value=1)


class Echo(APIView):
    max_body_size = 1024

    def post(self, request):
        serializer = ItemSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(serializer.validated_data)


class EchoWithDefaultLimit(Echo):
    max_body_size = None


def failing(exc):
    class Failing(APIView):
        def get(self, request):
            raise exc

    return Failing.as_view()


class Staff(APIView):
    def get(self, request):
        if not request.user.is_staff:
            raise exceptions.PermissionDenied()
        return Response({})


class Crash(APIView):
    def get(self, request):
        raise RuntimeError("a bug")


urlpatterns = [
    path("api/v1/test/echo/", Echo.as_view()),
    path("api/v1/test/echo-default/", EchoWithDefaultLimit.as_view()),
    path("api/v1/test/staff/", Staff.as_view()),
    path("api/v1/test/conflict/", failing(Conflict("Already exists."))),
    path("api/v1/test/throttled/", failing(exceptions.Throttled(wait=30))),
    path("api/v1/test/database/", failing(OperationalError("connection refused"))),
    path("api/v1/test/crash/", Crash.as_view()),
    path("", include(veritas_urls.urlpatterns)),
]
handler400 = veritas_urls.handler400
handler403 = veritas_urls.handler403
handler404 = veritas_urls.handler404
handler500 = veritas_urls.handler500


class Slow(APIView):
    """A statement that outlives its timeout (set here so the test needs no new connection)."""

    def get(self, request):
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = '20ms'")
            cursor.execute("SELECT pg_sleep(2)")
        return Response({})


urlpatterns.insert(0, path("api/v1/test/slow/", Slow.as_view()))
