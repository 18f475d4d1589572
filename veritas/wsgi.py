import os

from django.core.wsgi import get_wsgi_application

from veritas import statement_timeout

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "veritas.settings")
statement_timeout.mark_web_process()  # this process serves requests: bound its queries

application = get_wsgi_application()
