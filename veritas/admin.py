from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django.utils.html import format_html

from veritas.models import PersonalToken, User

TOKEN_STATE_COLOURS = {"active": "#2e7d32", "revoked": "#757575", "expired": "#ef6c00"}


class PersonalTokenInline(admin.TabularInline):
    model = PersonalToken
    extra = 0
    can_delete = False
    fields = ["name", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at"]
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(User)
class VeritasUserAdmin(UserAdmin):
    """Django's user admin, except that only superusers may touch superusers or make one:
    otherwise a staff member with ``change_user`` could take over a superuser's account
    (set its password) or promote themselves."""

    inlines = [PersonalTokenInline]

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        return readonly if request.user.is_superuser else [*readonly, "is_superuser"]


class TokenStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("active", "Active"), ("revoked", "Revoked"), ("expired", "Expired")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "active":
            return queryset.filter(revoked_at__isnull=True).exclude(expires_at__lte=now)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        if self.value() == "expired":
            return queryset.filter(revoked_at__isnull=True, expires_at__lte=now)
        return queryset


@admin.register(PersonalToken)
class PersonalTokenAdmin(admin.ModelAdmin):
    """Personal API tokens. Everyone manages their own; superusers everyone's. The secret is
    shown once, when the token is issued."""

    list_display = ["name", "user", "prefix", "state_badge", "created_at", "expires_at", "last_used_at"]
    list_filter = [TokenStateFilter]
    list_select_related = ["user"]
    search_fields = ["name", "prefix", "user__username"]
    autocomplete_fields = ["user"]
    actions = ["revoke"]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset if request.user.is_superuser else queryset.filter(user=request.user)

    def get_fields(self, request, obj=None):
        if obj is None:  # issuing: the owner only when a superuser issues it
            return ["user", "name", "expires_at"] if request.user.is_superuser else ["name", "expires_at"]
        return ["user", "name", "prefix", "state_badge", "created_at", "expires_at", "last_used_at", "revoked_at"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        # A token's owner and secret never change: revoke it and issue a new one instead.
        return ["user", "prefix", "state_badge", "created_at", "last_used_at", "revoked_at"]

    @admin.display(description="state")
    def state_badge(self, obj):
        return format_html(
            '<span style="background:{};color:#fff;padding:2px 8px;border-radius:10px;font-weight:600;'
            'font-size:11px">{}</span>',
            TOKEN_STATE_COLOURS[obj.state],
            obj.state,
        )

    def save_model(self, request, obj, form, change):
        if not change:
            if not request.user.is_superuser:
                obj.user = request.user
            if not PersonalToken.may_issue(request.user, obj.user):
                raise PermissionDenied("Only a superuser may issue a token for another user.")
            value = obj.assign_new_secret()
            messages.warning(request, f"Copy the token now, it will not be shown again: {value}")
        super().save_model(request, obj, form, change)

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        revoked = queryset.revoke()
        self.message_user(request, f"Revoked {revoked} token{'' if revoked == 1 else 's'}.", messages.SUCCESS)
