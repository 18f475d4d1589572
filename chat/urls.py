from veritas.api.routers import app_router

app_name = "chat"

router = app_router()

urlpatterns = router.urls
