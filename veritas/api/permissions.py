from rest_framework import permissions


class ModelPermissions(permissions.DjangoModelPermissions):
    """Django model permissions, with the *view* permission required for reads too.

    (DRF's own class lets any authenticated user read.) Views without a model queryset
    set ``queryset = Model.objects.none()`` to say which model they guard.
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
        return super().has_permission(request, view)
