from rest_framework.routers import SimpleRouter


def app_router() -> SimpleRouter:
    """The router each domain app registers its viewsets on (mounted at /api/v1/<app>/).

    SimpleRouter: no API root view (every endpoint needs credentials; the schema is the
    index) and no format suffixes (``/logs/1.json``): JSON is the only format.
    """
    return SimpleRouter(trailing_slash=True)
