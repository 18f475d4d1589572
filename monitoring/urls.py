from veritas.api.routers import app_router

app_name = "monitoring"

router = app_router()

urlpatterns = router.urls
