from frames import views
from veritas.api.routers import app_router

app_name = "frames"

router = app_router()
router.register("universities", views.UniversityViewSet, basename="university")
router.register("faculty", views.FacultyViewSet, basename="faculty")
router.register("projects", views.ProjectViewSet, basename="project")
router.register("teams", views.TeamViewSet, basename="team")
router.register("students", views.StudentViewSet, basename="student")
router.register("departures", views.DepartureViewSet, basename="departure")
router.register("outcomes", views.OutcomeViewSet, basename="outcome")
router.register("interfaces", views.InterfaceViewSet, basename="interface")
router.register("factors", views.RiskFactorViewSet, basename="factor")
router.register("factor-values", views.FactorValueViewSet, basename="factor-value")
router.register("models", views.FactorModelViewSet, basename="model")
router.register("actions", views.ActionViewSet, basename="action")

urlpatterns = router.urls
