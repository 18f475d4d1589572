"""The research API's operations: institutions' keys, QAC models (fit, load, apply) and jobs.
Views and tasks call these; they check and write, nothing else does."""

from __future__ import annotations

import io
import time
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from research import qac
from research.models import Institution, InstitutionAPIKey, JobStatus, QACModel
from veritas import audit


def issue_key(*, institution: Institution, name: str, expires_at=None, actor=None) -> tuple[InstitutionAPIKey, str]:
    """A new key for ``institution`` (audited); returns it with its full value, shown once."""
    with transaction.atomic():
        key, value = InstitutionAPIKey.issue(institution=institution, name=name, expires_at=expires_at)
        audit.record("issue key", actor=actor, obj=key, changes={"institution": institution.slug, "name": name})
    return key, value


# --- QAC models ---------------------------------------------------------------------------------


def is_large(embedding: np.ndarray) -> bool:
    """Inputs above RESEARCH_QAC_INLINE_MAX_VALUES numbers run as jobs (``make worker``)."""
    return embedding.size > settings.RESEARCH_QAC_INLINE_MAX_VALUES


def fit(*, institution: Institution, embedding: np.ndarray, params: qac.Params, name: str = "") -> QACModel:
    """Build and store the embedding's graph as a model of ``institution``."""
    qac.engine(params.engine)  # an unknown engine is refused before the work
    started = time.perf_counter()
    graph = qac.knn_graph(embedding, params)
    data = graph.to_bytes()
    metrics = {**graph.metrics, "fit_ms": round((time.perf_counter() - started) * 1000, 1)}
    stored_params = {**params.as_dict(), "sigma": graph.sigma if graph.sigma is not None else params.sigma}
    model = QACModel.objects.create(
        institution=institution,
        name=name,
        engine=params.engine,
        params=stored_params,
        n_rows=embedding.shape[0],
        n_columns=embedding.shape[1],
        graph=data,
        sha256=qac.sha256(data),
        size_bytes=len(data),
        metrics=metrics,
    )
    qac.graphs.put(model.sha256, graph)
    return model


def load_graph(model: QACModel) -> qac.Graph:
    """The model's graph: from this process's cache by hash, else read from the database
    (only then are the bytes fetched) and checked against the stored hash."""
    graph = qac.graphs.get(model.sha256)
    if graph is None:
        data = bytes(QACModel.objects.values_list("graph", flat=True).get(pk=model.pk))
        if qac.sha256(data) != model.sha256:
            raise RuntimeError(f"QAC model {model.pk}: stored graph does not match its SHA-256")
        graph = qac.Graph.from_bytes(data)
        qac.graphs.put(model.sha256, graph)
    return graph


@dataclass
class Applied:
    model: QACModel
    graph_source: str
    smoothed: qac.Smoothed

    def as_dict(self) -> dict:
        result = self.smoothed
        return {
            "model": str(self.model.pk),
            "engine": self.model.engine,
            "graph": self.graph_source,
            "embedding": result.z.tolist(),
            "metrics": {
                "psi_fidelity": result.psi_fidelity,
                "coherence_gain": result.coherence_gain,
                "null_coherence_gain": result.null_coherence_gain,
                "null_seed": result.null_seed,
            },
        }


def apply(*, model: QACModel, embedding: np.ndarray, graph_source: str = "model", null_seed: int = 0) -> Applied:
    """Smooth ``embedding`` with the model: over its stored graph, or (``graph="input"``, the
    legacy's behaviour) over a graph built from the embedding itself with the model's params."""
    params = qac.Params.from_dict(model.params)
    if graph_source == "input":
        graph = qac.knn_graph(embedding, params)
    else:
        if embedding.shape[0] != model.n_rows:
            raise qac.QACError("embedding", f"Has {embedding.shape[0]} rows; the model was fitted on {model.n_rows}.")
        graph = load_graph(model)
    return Applied(
        model=model, graph_source=graph_source, smoothed=qac.apply(graph, embedding, params, null_seed=null_seed)
    )


# --- jobs -----------------------------------------------------------------------------------------


def _pack(embedding: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, embedding=embedding)
    return buffer.getvalue()


def _unpack(payload: bytes) -> np.ndarray:
    with np.load(io.BytesIO(payload), allow_pickle=False) as arrays:
        return arrays["embedding"]


def queue_job(*, institution: Institution, kind: str, embedding: np.ndarray, params: dict) -> JobStatus:
    """A job for ``make worker``, stored with its input; its task row is written in the same
    transaction (django-tasks-db), so there is never one without the other."""
    from research import tasks  # tasks import services

    with transaction.atomic():
        job = JobStatus.objects.create(institution=institution, kind=kind, payload=_pack(embedding), params=params)
        result = tasks.run_job.enqueue(str(job.pk))
        JobStatus.objects.filter(pk=job.pk).update(task_id=str(result.id))
    job.refresh_from_db()
    return job


def cancel_job(job: JobStatus) -> bool:
    """Cancel a queued job (True), or say it is past that (False): the worker skips it."""
    updated = JobStatus.objects.filter(pk=job.pk, status=JobStatus.Status.QUEUED).update(
        status=JobStatus.Status.CANCELLED, finished_at=timezone.now(), payload=None
    )
    job.refresh_from_db()
    return bool(updated)


def run_job(job_id: str) -> str:
    """Run a queued job (the worker's task): claim it, run it, store the outcome. A job
    cancelled (or claimed) meanwhile is left alone. Returns the final status."""
    claimed = JobStatus.objects.filter(pk=job_id, status=JobStatus.Status.QUEUED).update(
        status=JobStatus.Status.RUNNING, started_at=timezone.now(), progress=0.0
    )
    if not claimed:
        return JobStatus.objects.filter(pk=job_id).values_list("status", flat=True).first() or "missing"
    job = JobStatus.objects.select_related("institution").get(pk=job_id)
    try:
        embedding = _unpack(bytes(job.payload))
        result = _run(job, embedding)
    except qac.QACError as error:
        return _finish(job, JobStatus.Status.FAILED, error=f"{error.field}: {error}")
    except Exception as error:
        _finish(job, JobStatus.Status.FAILED, error=f"{type(error).__name__}: {error}")
        raise
    return _finish(job, JobStatus.Status.SUCCEEDED, result=result)


def _run(job: JobStatus, embedding: np.ndarray) -> dict:
    params = job.params
    if job.kind == JobStatus.Kind.QAC_FIT:
        model = fit(
            institution=job.institution,
            embedding=embedding,
            params=qac.Params(**params["params"]),
            name=params.get("name", ""),
        )
        return {"model": str(model.pk), "metrics": model.metrics}
    model = QACModel.objects.defer("graph").get(pk=params["model"], institution=job.institution)
    JobStatus.objects.filter(pk=job.pk).update(progress=0.1)
    return apply(
        model=model, embedding=embedding, graph_source=params["graph"], null_seed=params["null_seed"]
    ).as_dict()


def _finish(job: JobStatus, status: str, *, result=None, error: str = "") -> str:
    JobStatus.objects.filter(pk=job.pk).update(
        status=status,
        result=result,
        error=error[:2000],
        progress=1.0 if status == JobStatus.Status.SUCCEEDED else job.progress,
        finished_at=timezone.now(),
        payload=None,
    )
    return status
