from veritas.api.routers import app_router

app_name = "frames"

router = app_router()

urlpatterns = router.urls
