from django.http import Http404
from django.utils import timezone
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, serializers, status, views, viewsets
from rest_framework.response import Response

from veritas.api.filters import ActionFilter, reject_unknown_query_params
from veritas.api.pagination import CursorPagination
from veritas.api.permissions import MayReadAudit
from veritas.api.serializers import ActionLogSerializer, StrictSerializer, UTCDateTimeField
from veritas.models import ActionLog, PersonalToken, User

# A UUID in a URL, with or without its hyphens (objects addressed by their public uuid).
UUID_PATTERN = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"


def json_body(request, *, optional=False):
    """The request's JSON object; a write without a body at all is a 400 (an empty PATCH is
    ``{}``), unless the body is ``optional``."""
    data = request.data
    if request.stream is None:  # no body at all (DRF then hands an empty dict or QueryDict)
        if optional:
            return {}
        raise exceptions.ParseError("Send a JSON object as the body (Content-Type: application/json).")
    return data


WRITE_ACTIONS = ("create", "update", "partial_update")


class WriteSchema(AutoSchema):
    """Writes take the view's ``write_serializer_class`` and answer with its output
    serializer (``serializer_class``). A body is required (``json_body``), except for the
    view's ``optional_body_actions``."""

    def get_request_serializer(self):
        if getattr(self.view, "action", None) in WRITE_ACTIONS:
            return getattr(self.view, "write_serializer_class", None) or super().get_request_serializer()
        return super().get_request_serializer()

    def _get_request_body(self, direction="request"):
        body = super()._get_request_body(direction)
        if body is not None and self.view.action not in getattr(self.view, "optional_body_actions", ()):
            body["required"] = True
        return body


class ServiceWrites:
    """create / update / partial_update / destroy through a service: the body is validated by
    ``write_serializer_class``, written by ``save(data, instance)`` and answered with
    ``serializer_class``; ``remove(instance)`` deletes."""

    write_serializer_class = None
    schema = WriteSchema()

    def save(self, data: dict, instance=None):
        raise NotImplementedError

    def remove(self, instance) -> None:
        raise NotImplementedError

    def validated(self, serializer_class, instance=None, partial=False) -> dict:
        body = serializer_class(
            instance, data=json_body(self.request), partial=partial, context=self.get_serializer_context()
        )
        body.is_valid(raise_exception=True)
        return dict(body.validated_data)

    def answer(self, instance, status_code=status.HTTP_200_OK) -> Response:
        return Response(self.get_serializer(instance).data, status=status_code)

    def check_request(self) -> None:
        """A refusal that must come before the body is validated (a 403, not a 400)."""

    def create(self, request, *args, **kwargs):
        self.check_request()
        return self.answer(self.save(self.validated(self.write_serializer_class)), status.HTTP_201_CREATED)

    def update(self, request, *args, partial=False, **kwargs):
        instance = self.get_object()
        self.check_request()
        data = self.validated(self.write_serializer_class, instance=instance, partial=partial)
        return self.answer(self.save(data, instance))

    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)

    def destroy(self, request, *args, **kwargs):
        self.remove(self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


def query(serializer_class, request, allowed: set[str]) -> dict:
    """The query parameters of a plain action (one without the filter backend): unknown ones
    are a 400, the known ones validated by ``serializer_class``."""
    reject_unknown_query_params(request, allowed)
    params = serializer_class(data={key: request.query_params[key] for key in allowed if key in request.query_params})
    params.is_valid(raise_exception=True)
    return params.validated_data


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.EmailField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    is_staff = serializers.BooleanField()
    auth = serializers.ChoiceField(choices=["token", "session"], help_text="How this request was authenticated.")


class NegotiatesAfterAuthentication:
    """DRF picks the renderer before it authenticates, so ``?format=xml`` would be a 404 (and
    an unanswerable Accept a 406) even without credentials. Here a failed negotiation is
    answered after authentication and permissions: 401/403 first, then a 400 naming
    ``format`` (or the 406)."""

    def perform_content_negotiation(self, request, force=False):
        try:
            return super().perform_content_negotiation(request, force)
        except (Http404, exceptions.NotAcceptable) as error:
            if force:
                raise
            self.negotiation_error = error
            renderer = self.get_renderers()[0]
            return renderer, renderer.media_type

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        error = getattr(self, "negotiation_error", None)
        if isinstance(error, Http404):
            formats = ", ".join(renderer.format for renderer in self.get_renderers())
            raise exceptions.ValidationError({"format": [f"Unknown format: one of {formats}."]})
        if error is not None:
            raise error


class APIView(NegotiatesAfterAuthentication, views.APIView):
    """The base of the API's plain (non-generic) views: a query parameter that is not in
    ``allowed_query_params`` is a 400 naming it. (Generic views get the same from
    veritas.api.filters.FilterBackend, from their filters and pagination.)"""

    allowed_query_params: frozenset[str] = frozenset()

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.method in self.allowed_methods:  # else DRF's 405, after initial()
            reject_unknown_query_params(request, self.allowed_query_params)


class GenericViewSet(NegotiatesAfterAuthentication, viewsets.GenericViewSet):
    """The base of the API's viewsets: reads take the query parameters of their filters and
    pagination (veritas.api.filters.FilterBackend); writes take none but
    ``allowed_query_params``, so ``POST …/?sorce=x`` is a 400 too."""

    allowed_query_params: frozenset[str] = frozenset()

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # A method the view lacks stays a 405 (DRF answers it after initial()).
        if request.method in self.allowed_methods and request.method not in ("GET", "HEAD", "OPTIONS"):
            reject_unknown_query_params(request, self.allowed_query_params)


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


class TokenSerializer(serializers.ModelSerializer):
    state = serializers.ChoiceField(choices=["active", "revoked", "expired"], read_only=True)
    user = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = PersonalToken
        fields = ["id", "name", "user", "prefix", "state", "created_at", "expires_at", "last_used_at", "revoked_at"]
        read_only_fields = fields


class TokenCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100, help_text="What the token is for, e.g. 'grading script'.")
    expires_at = UTCDateTimeField(required=False, allow_null=True, help_text="With a UTC offset. Default: never.")
    user = serializers.SlugRelatedField(
        slug_field="username",
        queryset=User.objects.all(),
        required=False,
        help_text="Superusers only: issue the token for this user. Default: yourself.",
    )

    def validate_expires_at(self, value):
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError("Must be in the future.")
        return value


class IssuedTokenSerializer(TokenSerializer):
    token = serializers.CharField(read_only=True, help_text="The full secret value: shown this once, never again.")

    class Meta(TokenSerializer.Meta):
        fields = [*TokenSerializer.Meta.fields, "token"]
        read_only_fields = fields


@extend_schema(tags=["core"])
class TokenViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, GenericViewSet):
    """Your personal API tokens (a superuser sees everyone's). Issue one, list them, revoke one.

    Issuing needs a session (a login to the admin): a token cannot mint tokens, so a leaked
    token cannot outlive its revocation by issuing itself successors."""

    serializer_class = TokenSerializer
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        tokens = PersonalToken.objects.select_related("user").order_by("-created_at", "-id")
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular, building the schema
            return tokens.none()
        return tokens if self.request.user.is_superuser else tokens.filter(user=self.request.user)

    @extend_schema(request=TokenCreateSerializer, responses={201: IssuedTokenSerializer})
    def create(self, request):
        if request.auth is not None:
            raise exceptions.PermissionDenied("Issue tokens from a login session (the admin), not with a token.")
        if "user" in request.data and not request.user.is_superuser:
            # Refused before the name is looked up: a 400 "no such user" would tell who exists.
            raise exceptions.PermissionDenied("Only a superuser may issue a token for another user.")
        data = TokenCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        token, value = PersonalToken.issue(
            user=data.validated_data.get("user", request.user),
            name=data.validated_data["name"],
            expires_at=data.validated_data.get("expires_at"),
            actor=request.user,
        )
        token.token = value
        return Response(IssuedTokenSerializer(token).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    def destroy(self, request, pk=None):
        """Revoke the token (it is kept, revoked, for the record)."""
        self.get_object().revoke()
        return Response(status=status.HTTP_204_NO_CONTENT)


class NewestActionsFirst(CursorPagination):
    ordering = ("-at", "-id")


class ActionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, GenericViewSet):
    """The audit trail (veritas/audit.py), newest first: who wrote what, when, through which
    door. Staff see their own entries and those about records they may see; holders of
    ``veritas.view_actionlog`` see every entry. Each app registers a subclass naming its
    ``object_types_prefix`` (e.g. ``"dashboard."``), so its router lists its own entries."""

    serializer_class = ActionLogSerializer
    filterset_class = ActionFilter
    pagination_class = NewestActionsFirst
    permission_classes = [MayReadAudit]
    lookup_value_regex = r"\d+"
    object_types_prefix = ""

    def get_queryset(self):
        entries = ActionLog.objects.all()
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular, building the schema
            return entries.none()
        entries = ActionLog.objects.visible_to(self.request.user)
        if self.object_types_prefix:
            entries = entries.filter(object_type__startswith=self.object_types_prefix)
        return entries
