from veritas.api.routers import app_router

app_name = "research"

router = app_router()

urlpatterns = router.urls
