from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from veritas import views
from veritas.api.routers import app_router
from veritas.api.views import MeView, TokenViewSet

admin.site.site_header = "Veritas"
admin.site.site_title = "Veritas"
admin.site.index_title = "Administration"

DOMAIN_APPS = ["monitoring", "dashboard", "dropout", "chat", "research", "frames"]

core_router = app_router()
core_router.register("tokens", TokenViewSet, basename="token")

api_v1 = [
    path("me/", MeView.as_view(), name="me"),
    *core_router.urls,
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    *[path(f"{app}/", include(f"{app}.urls")) for app in DOMAIN_APPS],
    # Last: any other /api/ path is a JSON 404, in DEBUG too (no HTML error pages on /api/).
    re_path(r"^.*$", views.api_not_found),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_v1, "api"))),
    path("health/live", views.live, name="health-live"),
    path("health/ready", views.ready, name="health-ready"),
]

handler400 = "veritas.views.bad_request"
handler403 = "veritas.views.permission_denied"
handler404 = "veritas.views.page_not_found"
handler500 = "veritas.views.server_error"
