"""The audit trail: who wrote what, when, through which door. One table (``ActionLog``) for
every app.

Services call ``record()`` once per write, in the write's transaction (a rolled-back write
leaves no entry); a bulk write records one entry with its counts, not one per row.

    audit.record("update", actor=user, obj=assessment, changes=audit.diff(before, after),
                 scope=student)

Where the write came from is context, set once per request or command rather than passed
through every service:

- ``AuditMiddleware`` (settings.MIDDLEWARE) marks requests: ``via`` is "admin" under
  /admin/, else "api"; the client address is ``veritas.net.client_ip`` (the one that
  believes only trusted proxies); the request id is ``veritas.request_id``'s.
- management commands wrap their work in ``with audit.command("import_students"):``; their
  entries carry the command and the operating-system user.

Scoping: an entry may name a record it belongs to (``scope``, e.g. the student an
assessment is about). Users with ``veritas.view_actionlog`` see every entry; other staff see
their own entries and those whose scope they may see, as each app declares with
``register_scope`` (the dashboard: the students of their cohorts); others see none.
"""

from __future__ import annotations

import contextlib
import contextvars
import getpass
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models

from veritas.models import ActionLog
from veritas.net import client_ip
from veritas.request_id import get_request_id


@dataclass(frozen=True)
class Context:
    via: str
    client_address: str | None = None
    command: str | None = None


_context: contextvars.ContextVar[Context | None] = contextvars.ContextVar("audit_context", default=None)


class AuditMiddleware:
    """Sets the audit context of each request (after RequestIDMiddleware)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        via = ActionLog.Via.ADMIN if request.path.startswith("/admin/") else ActionLog.Via.API
        token = _context.set(Context(via=via, client_address=client_ip(request)))
        try:
            return self.get_response(request)
        finally:
            _context.reset(token)


@contextlib.contextmanager
def command(name: str) -> Iterator[None]:
    """The audit context of a management command's work."""
    token = _context.set(Context(via=ActionLog.Via.COMMAND, command=name))
    try:
        yield
    finally:
        _context.reset(token)


def _object_type(model: type[models.Model] | models.Model) -> str:
    return model._meta.label_lower


def snapshot(instance: models.Model, fields: list[str]) -> dict[str, Any]:
    """The named fields' values, JSON-ready: related objects by primary key, many-to-many
    fields as sorted lists of keys."""
    values = {}
    for name in fields:
        field = instance._meta.get_field(name)
        if field.many_to_many:
            values[name] = sorted(related.pk for related in getattr(instance, name).all())
        elif field.is_relation:
            values[name] = getattr(instance, field.attname)
        elif isinstance(field, models.DecimalField) and getattr(instance, name) is not None:
            # As stored: "18" entered and 18.00 read back are one value, not a change.
            values[name] = Decimal(getattr(instance, name)).quantize(Decimal(1).scaleb(-field.decimal_places))
        else:
            values[name] = getattr(instance, name)
    return _json_ready(values)


def _json_ready(values: Mapping[str, Any]) -> dict[str, Any]:
    encoder = DjangoJSONEncoder()
    ready = {}
    for key, value in values.items():
        if isinstance(value, (str, int, float, bool, list, dict)) or value is None:
            ready[key] = value
        else:
            ready[key] = encoder.default(value)
    return ready


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``{"before": {...}, "after": {...}}`` of the fields whose values differ (a key on one
    side only reads as None on the other)."""
    changed = [key for key in {**before, **after} if before.get(key) != after.get(key)]
    return {"before": {key: before.get(key) for key in changed}, "after": {key: after.get(key) for key in changed}}


def record(
    verb: str,
    *,
    actor=None,
    obj: models.Model | None = None,
    model: type[models.Model] | None = None,
    object_id: Any = "",
    object_repr: str = "",
    changes: Mapping[str, Any] | None = None,
    scope: models.Model | None = None,
) -> ActionLog:
    """Record one write. ``obj`` is the object written (for a deletion: as it was, with its
    primary key); for a bulk write pass ``model`` and the counts in ``changes``."""
    context = _context.get() or Context(via=ActionLog.Via.SYSTEM)
    if obj is not None:
        model, object_id, object_repr = type(obj), obj.pk, object_repr or str(obj)
    if model is None:
        raise ValueError("record() needs obj or model")
    if actor is not None and actor.is_authenticated:
        actor_name = actor.get_username()
    elif context.command:
        actor_name = f"{_os_user()} (manage.py {context.command})"
    else:
        actor_name = "system"
    return ActionLog.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_name=actor_name[:150],
        via=context.via,
        verb=verb,
        object_type=_object_type(model),
        object_id="" if object_id is None else str(object_id),
        object_repr=object_repr[:200],
        changes=dict(changes or {}),
        scope_type=_object_type(scope) if scope is not None else "",
        scope_id=scope.pk if scope is not None else None,
        request_id=(get_request_id() or "") if context.via in (ActionLog.Via.API, ActionLog.Via.ADMIN) else "",
        client_address=context.client_address,
    )


# --- audited writes of a model instance from validated data (the apps' services use these) -------


def assign(instance: models.Model, data: Mapping[str, Any], allowed: Iterable[str]) -> dict[str, list]:
    """Set the plain fields of ``data`` among ``allowed`` on ``instance``; returns the
    many-to-many ones (set by ``save`` once the instance has a key)."""
    many = {}
    for name in allowed:
        if name not in data:
            continue
        if instance._meta.get_field(name).many_to_many:
            many[name] = list(data[name])
        else:
            setattr(instance, name, data[name])
    return many


def save(instance: models.Model, many: Mapping[str, list]) -> None:
    """Validate (the model's own rules: ``full_clean``), save, then set the many-to-many fields."""
    instance.full_clean()
    instance.save()
    for name, values in many.items():
        getattr(instance, name).set(values)


def write(*, actor, instance: models.Model, data: Mapping[str, Any], fields: list[str], check=None, scope=None):
    """Create or change ``instance`` from ``data`` (``check(instance, many)`` may refuse it
    first) and record it: the new values, or those that changed (nothing changed: no entry).
    Call it inside the service's transaction."""
    creating = instance.pk is None
    before = {} if creating else snapshot(instance, fields)
    many = assign(instance, data, fields)
    if check is not None:
        check(instance, many)
    save(instance, many)
    after = snapshot(instance, fields)
    changes = {"after": after} if creating else diff(before, after)
    if changes["after"]:
        record("create" if creating else "update", actor=actor, obj=instance, changes=changes, scope=scope)
    return instance


def delete(*, actor, instance: models.Model, fields: list[str], scope=None) -> None:
    """Record the deletion of ``instance`` with its values, then delete it (in the caller's
    transaction)."""
    record("delete", actor=actor, obj=instance, changes={"before": snapshot(instance, fields)}, scope=scope)
    instance.delete()


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        return "operator"


# --- scoping ---------------------------------------------------------------------------------

# scope type ("app_label.model") → function(user) → a queryset of the primary keys of the
# records of that type the user may see.
_scopes: dict[str, Callable[[Any], models.QuerySet]] = {}


def register_scope(model: type[models.Model], visible_ids: Callable[[Any], models.QuerySet]) -> None:
    _scopes[_object_type(model)] = visible_ids


def may_read(user) -> bool:
    """Who may read the trail at all: staff (scoped) and holders of ``view_actionlog``."""
    return user.is_authenticated and user.is_active and (user.is_staff or user.has_perm("veritas.view_actionlog"))


def visible_to(entries: models.QuerySet, user) -> models.QuerySet:
    if not may_read(user):
        return entries.none()
    if user.has_perm("veritas.view_actionlog"):
        return entries
    visible = models.Q(actor=user)
    for scope_type, visible_ids in _scopes.items():
        visible |= models.Q(scope_type=scope_type, scope_id__in=visible_ids(user))
    return entries.filter(visible)


# --- retention -------------------------------------------------------------------------------


def prune(before: datetime, *, dry_run: bool = False) -> int:
    """Delete the entries older than ``before`` (or count them, with ``dry_run``); the one
    deletion path of the trail. Returns how many."""
    table = ActionLog._meta.db_table
    with connection.cursor() as cursor:
        if dry_run:
            cursor.execute(f"SELECT count(*) FROM {table} WHERE at < %s", [before])  # noqa: S608 (model table)
            return cursor.fetchone()[0]
        cursor.execute(f"DELETE FROM {table} WHERE at < %s", [before])  # noqa: S608 (model table)
        return cursor.rowcount
