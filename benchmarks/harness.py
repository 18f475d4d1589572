import json
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def sample(
    fn: Callable[[], object], *, repeat: int, warmup: int, setup: Callable[[], object] | None = None
) -> list[float]:
    """Wall-clock seconds of ``repeat`` calls of ``fn``, after ``warmup`` untimed ones;
    ``setup`` (untimed) runs before each call, e.g. to undo the previous call's writes."""
    for _ in range(warmup):
        if setup:
            setup()
        fn()
    timings = []
    for _ in range(repeat):
        if setup:
            setup()
        started = time.perf_counter()
        fn()
        timings.append(time.perf_counter() - started)
    return timings


@dataclass
class Comparison:
    benchmark: str
    workload: str
    baseline: str
    workload_median_ms: float
    workload_p95_ms: float
    baseline_median_ms: float
    baseline_p95_ms: float
    ratio: float  # workload median / baseline median
    added_ms: float  # workload median - baseline median
    target: str
    met: bool | None
    samples: int
    notes: dict = field(default_factory=dict)


@dataclass
class Harness:
    quick: bool = False
    comparisons: list[Comparison] = field(default_factory=list)
    current: str = ""

    def compare(
        self,
        workload: str,
        workload_fn: Callable[[], object],
        baseline: str,
        baseline_fn: Callable[[], object],
        *,
        repeat: int,
        warmup: int = 20,
        target: str = "",
        check: Callable[[Comparison], bool] | None = None,
        rounds: int = 3,
        notes: dict | None = None,
        workload_setup: Callable[[], object] | None = None,
        baseline_setup: Callable[[], object] | None = None,
    ) -> Comparison:
        """Time the workload and its baseline alternately (``rounds`` times each, so drift
        on a busy machine hits both), then compare medians. The ``*_setup`` functions run
        untimed before each call of their side."""
        if self.quick:
            repeat, warmup = max(min(5, repeat), repeat // 10), max(min(2, warmup), warmup // 10)
        work, base = [], []
        for _ in range(rounds):
            base += sample(baseline_fn, repeat=repeat, warmup=warmup, setup=baseline_setup)
            work += sample(workload_fn, repeat=repeat, warmup=warmup, setup=workload_setup)
        ms = 1000
        comparison = Comparison(
            benchmark=self.current,
            workload=workload,
            baseline=baseline,
            workload_median_ms=statistics.median(work) * ms,
            workload_p95_ms=percentile(work, 95) * ms,
            baseline_median_ms=statistics.median(base) * ms,
            baseline_p95_ms=percentile(base, 95) * ms,
            ratio=statistics.median(work) / statistics.median(base),
            added_ms=(statistics.median(work) - statistics.median(base)) * ms,
            target=target,
            met=None,
            samples=len(work),
            notes=notes or {},
        )
        comparison.met = check(comparison) if check else None
        self.comparisons.append(comparison)
        return comparison

    def table(self) -> str:
        header = (
            f"{'workload':<54} {'median':>10} {'p95':>10} {'baseline':<46} {'median':>10} "
            f"{'ratio':>8} {'added':>10}  target"
        )
        lines = [header, "-" * len(header)]
        for c in self.comparisons:
            verdict = "" if c.met is None else (" ok" if c.met else " MISSED")
            lines.append(
                f"{c.workload:<54} {c.workload_median_ms:>8.3f}ms {c.workload_p95_ms:>8.3f}ms "
                f"{c.baseline:<46} {c.baseline_median_ms:>8.3f}ms {c.ratio:>7.2f}x {c.added_ms:>+8.3f}ms"
                f"  {c.target}{verdict}"
            )
        for c in self.comparisons:
            if c.notes:
                lines.append(f"  {c.workload}: " + ", ".join(f"{k}={v}" for k, v in c.notes.items()))
        return "\n".join(lines)

    def write_json(self, path: Path | None = None) -> Path:
        path = path or RESULTS / "latest.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {"python": platform.python_version(), "cpus": _cpu_count(), "platform": platform.platform()},
            "quick": self.quick,
            "comparisons": [asdict(c) for c in self.comparisons],
        }
        path.write_text(json.dumps(payload, indent=2) + "\n")
        return path


def _cpu_count() -> int | None:
    import os

    return os.cpu_count()
