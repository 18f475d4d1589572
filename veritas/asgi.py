import os

from django.core.asgi import get_asgi_application

from veritas import statement_timeout

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "veritas.settings")
statement_timeout.mark_web_process()  # this process serves requests: bound its queries

application = get_asgi_application()
