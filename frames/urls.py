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
router.register("modules", views.ModuleViewSet, basename="module")
router.register("sections", views.SectionViewSet, basename="section")
router.register("assignments", views.AssignmentViewSet, basename="assignment")
router.register("feedback", views.FeedbackViewSet, basename="feedback")
router.register("events", views.EventViewSet, basename="event")
router.register("actions", views.ActionViewSet, basename="action")

urlpatterns = router.urls
