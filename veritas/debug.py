"""Django's exception reporter filter (DEBUG pages, error e-mails), stricter about secrets."""

import re

from django.views.debug import SafeExceptionReporterFilter as DjangoFilter

from veritas.secrets import mask_url_passwords


class SafeExceptionReporterFilter(DjangoFilter):
    """Django's, plus: settings named like ``*URL``/``*DSN`` hidden, and passwords inside URLs
    masked in every setting and traceback variable that is a string."""

    hidden_settings = re.compile(r"API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|DATABASE_URL|DSN", re.I)

    def cleanse_setting(self, key, value):
        cleansed = super().cleanse_setting(key, value)
        return mask_url_passwords(cleansed) if type(cleansed) is str else cleansed

    def cleanse_special_types(self, request, value):
        value = super().cleanse_special_types(request, value)
        return mask_url_passwords(value) if type(value) is str else value
