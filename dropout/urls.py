from veritas.api.routers import app_router

app_name = "dropout"

router = app_router()

urlpatterns = router.urls
