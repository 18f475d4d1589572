from veritas.api.routers import app_router

app_name = "dashboard"

router = app_router()

urlpatterns = router.urls
