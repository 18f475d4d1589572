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
