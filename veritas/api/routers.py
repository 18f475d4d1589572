from rest_framework.routers import DefaultRouter


def app_router() -> DefaultRouter:
    """The router each domain app registers its viewsets on (mounted at /api/v1/<app>/).

    No API root view: every endpoint needs credentials, and the schema is the index.
    """
    router = DefaultRouter(trailing_slash=True)
    router.include_root_view = False
    return router
