from rest_framework import permissions


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
