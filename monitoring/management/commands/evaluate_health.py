from django.core.management.base import BaseCommand

from monitoring import services, tasks
from monitoring.models import SystemHealth


class Command(BaseCommand):
    help = "Evaluate every component's health now (or queue it for `make worker`)."

    def add_arguments(self, parser):
        parser.add_argument("--enqueue", action="store_true", help="Queue one evaluation for a worker instead.")
        parser.add_argument(
            "--schedule",
            action="store_true",
            help=(
                "Start the periodic evaluation (every MONITORING_HEALTH_INTERVAL_SECONDS), or top it up: "
                "idempotent, `make worker` runs it."
            ),
        )

    def handle(self, enqueue, schedule, **options):
        if schedule:
            queued = tasks.schedule_health_evaluation()
            self.stdout.write(
                f"periodic health evaluation: {queued} run(s) queued"
                if queued
                else "periodic health evaluation: already queued"
            )
            return
        if enqueue:
            result = tasks.evaluate_health.enqueue()
            self.stdout.write(f"queued task {result.id}")
            return
        evaluation = services.evaluate_health()
        for transition in evaluation.transitions:
            self.stdout.write(f"{transition.component}: {transition.old_status} → {transition.new_status}")
        components = list(SystemHealth.objects.all())
        overall, severity = services.overall_status(components)
        for health in components:
            self.stdout.write(f"  {health.component:<24} {health.status:<8} {health.severity:.2f}  {health.reason}")
        self.stdout.write(f"overall: {overall} (severity {severity:.2f}), {len(evaluation.results)} evaluated")
