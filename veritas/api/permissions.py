from rest_framework import permissions

from veritas import audit


class ModelPermissions(permissions.DjangoModelPermissions):
    """Django model permissions, with the *view* permission required for reads too.

    (DRF's own class lets any authenticated user read.) Views without a model queryset
    set ``queryset = Model.objects.none()`` to say which model they guard. A refusal
    names the missing permissions, so the caller knows what to ask an administrator for.
    """

    perms_map = {
        **permissions.DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
    }

    def has_permission(self, request, view):
        # A method the view does not offer is 405, not 403 for lack of its permission.
        if request.method not in view.allowed_methods:
            return True
        if not request.user or not request.user.is_authenticated:
            return False
        required = self.get_required_permissions(request.method, self._queryset(view).model)
        missing = [perm for perm in required if not request.user.has_perm(perm)]
        if missing:
            # DRF reads the message off this per-request instance.
            self.message = f"Missing permission: {', '.join(missing)}."
        return not missing


class IsStaff(permissions.IsAdminUser):
    """Staff members only (``is_staff``), saying so when refused."""

    message = "Staff only: this needs a staff account."


class WriteModelPermissions(ModelPermissions):
    """Model permissions for writes only: every authenticated user reads (the view's
    ``get_queryset`` scopes what), while creating, changing and deleting need the model's
    add/change/delete permission, refused (403, naming it) before the body is looked at."""

    perms_map = {**ModelPermissions.perms_map, "GET": [], "HEAD": [], "OPTIONS": []}


class MayReadAudit(permissions.BasePermission):
    """The audit trail's readers (``veritas.audit.may_read``): staff, who see it scoped, and
    holders of ``veritas.view_actionlog``, who see all of it."""

    message = "Staff only: the audit trail needs a staff account or the veritas.view_actionlog permission."

    def has_permission(self, request, view):
        return audit.may_read(request.user)
