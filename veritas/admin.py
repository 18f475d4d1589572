from django import forms
from django.apps import apps
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from veritas import audit
from veritas.formats import MISSING
from veritas.models import ActionLog, PersonalToken, User

TOKEN_STATE_COLOURS = {"active": "#2e7d32", "revoked": "#757575", "expired": "#ef6c00"}


class BearerKeyInline(admin.TabularInline):
    """A user's tokens, an institution's keys: listed, never added or edited here (a key is
    issued where its secret can be shown once)."""

    extra = 0
    can_delete = False
    fields = ["name", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at"]
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


class PersonalTokenInline(BearerKeyInline):
    model = PersonalToken


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


class BearerKeyAdmin(admin.ModelAdmin):
    """What the admins of keys (veritas.models.BearerKey) share: the state badge, the state
    filter and revoking."""

    list_filter = [TokenStateFilter]
    actions = ["revoke"]

    @admin.display(description="state")
    def state_badge(self, obj):
        return format_html(
            '<span style="background:{};color:#fff;padding:2px 8px;border-radius:10px;font-weight:600;'
            'font-size:11px">{}</span>',
            TOKEN_STATE_COLOURS[obj.state],
            obj.state,
        )

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset):
        revoked = queryset.revoke()
        self.message_user(request, f"Revoked {revoked} key{'' if revoked == 1 else 's'}.", messages.SUCCESS)


@admin.register(PersonalToken)
class PersonalTokenAdmin(BearerKeyAdmin):
    """Personal API tokens. Everyone manages their own; superusers everyone's. The secret is
    shown once, when the token is issued."""

    list_display = ["name", "user", "prefix", "state_badge", "created_at", "expires_at", "last_used_at"]
    list_select_related = ["user"]
    search_fields = ["name", "prefix", "user__username"]
    autocomplete_fields = ["user"]

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

    def save_model(self, request, obj, form, change):
        if not change:
            if not request.user.is_superuser:
                obj.user = request.user
            if not PersonalToken.may_issue(request.user, obj.user):
                raise PermissionDenied("Only a superuser may issue a token for another user.")
            value = obj.assign_new_secret()
            messages.warning(request, f"Copy the token now, it will not be shown again: {value}")
        super().save_model(request, obj, form, change)


# --- the audit trail -----------------------------------------------------------------------------


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by services (or the audit trail): read here, never added, changed
    or deleted."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def _value_text(value) -> str:
    if value is None or value == "":
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_value_text(item) for item in value) or "none"
    if isinstance(value, dict):
        return ", ".join(f"{key} {_value_text(item)}" for key, item in value.items()) or "none"
    return str(value)


def change_lines(changes: dict) -> list[tuple[str, str | None, str | None]]:
    """An entry's ``changes`` as (field, before, after) texts: an update's fields before and
    after, a creation's values (after only), a deletion's (before only), and other keys (a
    bulk write's counts) as values after."""
    before, after = changes.get("before") or {}, changes.get("after") or {}
    lines = [
        (key, _value_text(before[key]) if key in before else None, _value_text(after[key]) if key in after else None)
        for key in dict.fromkeys([*before, *after])
    ]
    lines += [(key, None, _value_text(value)) for key, value in changes.items() if key not in ("before", "after")]
    return lines


def changes_html(changes: dict, limit: int | None = None):
    """``score: 70.00 → 85.00`` one field a line (``limit`` lines, then how many more)."""
    lines = change_lines(changes)
    shown = lines if limit is None else lines[:limit]
    parts = []
    for field, before, after in shown:
        if before is not None and after is not None:
            parts.append(format_html("<strong>{}</strong>: {} → {}", field, before, after))
        elif before is not None:
            parts.append(format_html("<strong>{}</strong>: was {}", field, before))
        else:
            parts.append(format_html("<strong>{}</strong>: {}", field, after))
    if len(lines) > len(shown):
        parts.append(format_html("<em>and {} more</em>", len(lines) - len(shown)))
    return format_html_join(mark_safe("<br>"), "{}", ((part,) for part in parts)) if parts else MISSING


def admin_link(label: str, object_type: str, object_id) -> str | None:
    """The admin page of the record ``object_type`` ("app_label.model") ``object_id``, if the
    admin has one."""
    try:
        model = apps.get_model(object_type)
    except (LookupError, ValueError):
        return None
    if object_id in (None, "") or not admin.site.is_registered(model):
        return None
    try:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[object_id])
    except NoReverseMatch:
        return None
    return format_html('<a href="{}">{}</a>', url, label)


@admin.register(ActionLog)
class ActionLogAdmin(ReadOnlyAdmin):
    """The audit trail, read-only for everyone (entries are written by ``veritas.audit.record``
    and deleted only by retention, ``manage.py prune_actions``). Staff read the entries
    ``ActionLog.objects.visible_to`` gives them: their own and those about records they may
    see; holders of ``veritas.view_actionlog`` read all."""

    list_display = ["at_text", "who", "verb", "object_text", "changes_text"]
    list_filter = [("actor_name", admin.AllValuesFieldListFilter), "via", "verb", "object_type"]
    date_hierarchy = "at"
    search_fields = ["=object_id", "object_repr"]
    search_help_text = "An object's id (exactly) or a word of its name."
    ordering = ["-at", "-id"]
    actions = None
    show_full_result_count = False  # no COUNT(*) over the whole trail
    list_per_page = 50
    fields = [
        "at_text",
        "actor_name",
        "via",
        "verb",
        "object_type",
        "object_link",
        "changes_full",
        "scope_text",
        "request_id",
        "client_address",
    ]
    readonly_fields = fields

    def has_module_permission(self, request):
        return audit.may_read(request.user)

    def has_view_permission(self, request, obj=None):
        return audit.may_read(request.user)

    def get_queryset(self, request):
        return super().get_queryset(request).visible_to(request.user)

    @admin.display(description="at (UTC)", ordering="at")
    def at_text(self, obj):
        at = timezone.localtime(obj.at)
        return format_html('<time datetime="{}">{}</time>', at.isoformat(), at.strftime("%Y-%m-%d %H:%M:%S"))

    @admin.display(description="who", ordering="actor_name")
    def who(self, obj):
        return format_html('{}<br><span class="quiet">via {}</span>', obj.actor_name, obj.via)

    @admin.display(description="object")
    def object_text(self, obj):
        return format_html('<span class="quiet">{}</span><br>{}', obj.object_type, self.object_link(obj))

    @admin.display(description="object")
    def object_link(self, obj):
        label = obj.object_repr or obj.object_id or MISSING
        if obj.verb == "delete":
            return label
        return admin_link(label, obj.object_type, obj.object_id) or label

    @admin.display(description="changes")
    def changes_text(self, obj):
        return changes_html(obj.changes, limit=3)

    @admin.display(description="changes")
    def changes_full(self, obj):
        return changes_html(obj.changes)

    @admin.display(description="about")
    def scope_text(self, obj):
        if not obj.scope_type:
            return MISSING
        label = f"{obj.scope_type} {obj.scope_id}"
        return admin_link(label, obj.scope_type, obj.scope_id) or label


# --- shared by the apps' admins ------------------------------------------------------------------

CSS = {"all": ["veritas/admin.css"]}


def badge(text: str, kind: str):
    """A word on a coloured pill: the word carries the meaning, the colour only helps."""
    return format_html('<span class="veritas-badge veritas-badge-{}">{}</span>', kind, text)


class ServiceForm(forms.ModelForm):
    """A model form whose validation is the write: once its fields are clean it calls the
    admin's ``write`` (a service) inside the admin's transaction, instead of ModelForm's
    model validation. The service's field-keyed ``ValidationError`` shows on those fields,
    a refusal (no permission, a transition not allowed) above the form; a valid form has been
    saved and audited once."""

    request = None  # set per request by ServiceAdmin.get_form
    model_admin = None
    saved = None

    def _post_clean(self):
        if self.errors:
            return
        current = None if self.instance._state.adding else self.instance
        try:
            with transaction.atomic():
                self.saved = self.model_admin.write(self.request, current, self.service_data())
        except ValidationError as error:
            self.add_service_errors(error)
        except self.model_admin.refusals as error:
            self.add_error(None, str(error))

    def service_data(self) -> dict:
        return dict(self.cleaned_data)

    def add_service_errors(self, error: ValidationError) -> None:
        keyed = error.message_dict if hasattr(error, "error_dict") else {NON_FIELD_ERRORS: error.messages}
        for field, problems in keyed.items():
            if field in self.fields:
                self.add_error(field, problems)
            elif field == NON_FIELD_ERRORS:
                self.add_error(None, problems)
            else:  # a field this user cannot edit here
                self.add_error(None, [f"{field}: {problem}" for problem in problems])


class ServiceAdmin(admin.ModelAdmin):
    """Saves and deletions through ``write(request, obj or None, data)`` and
    ``erase(request, obj)``, which call the app's services. ``refusals``: the exceptions that
    refuse a write as a whole (shown above the form)."""

    form = ServiceForm
    refusals: tuple[type[Exception], ...] = (PermissionDenied,)

    class Media:
        css = CSS

    def write(self, request, obj, data: dict):
        raise NotImplementedError

    def erase(self, request, obj) -> None:
        raise NotImplementedError

    def _changeform_view(self, request, object_id, form_url, extra_context):
        # Inside the admin's transaction. The form's validation wrote through the service;
        # when an inline (validated after it) is invalid the page comes back with its errors,
        # and that write must not stay. (A successful save answers a redirect, or a popup's
        # closing page: no errors.)
        response = super()._changeform_view(request, object_id, form_url, extra_context)
        context = getattr(response, "context_data", None) or {}
        if request.method == "POST" and context.get("errors"):
            transaction.set_rollback(True)
        return response

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)  # a new class per call
        form.request, form.model_admin = request, self
        return form

    def save_form(self, request, form, change):
        return form.saved  # written when the form was validated

    def save_model(self, request, obj, form, change):
        pass  # done by the service

    def save_related(self, request, form, formsets, change):
        pass  # the service set the many-to-many fields

    def delete_model(self, request, obj):
        self.erase(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.erase(request, obj)
