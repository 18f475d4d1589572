"""Two list endpoints over users, one per pagination class, for test_pagination.py."""

from django.contrib.auth import get_user_model
from django.urls import path
from rest_framework import generics, serializers

from veritas.api.pagination import CursorPagination, PageNumberPagination


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = get_user_model()
        fields = ["id", "username"]


class ByPage(generics.ListAPIView):
    queryset = get_user_model().objects.order_by("id")
    serializer_class = UserSerializer
    pagination_class = PageNumberPagination


class NewestFirst(CursorPagination):
    ordering = ("-date_joined", "-id")


class ByCursor(ByPage):
    pagination_class = NewestFirst


urlpatterns = [path("api/v1/test/pages/", ByPage.as_view()), path("api/v1/test/cursor/", ByCursor.as_view())]
