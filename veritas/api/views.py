from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.EmailField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    is_staff = serializers.BooleanField()
    auth = serializers.ChoiceField(choices=["token", "session"], help_text="How this request was authenticated.")


class MeView(APIView):
    """The authenticated user."""

    @extend_schema(responses=MeSerializer, operation_id="me_retrieve", tags=["core"])
    def get(self, request):
        user = request.user
        data = {  # shaped as MeSerializer (the schema), built directly: this view is hot
            "id": user.pk,
            "username": user.get_username(),
            "email": user.email,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "is_staff": user.is_staff,
            "auth": "token" if request.auth is not None else "session",
        }
        return Response(data)
