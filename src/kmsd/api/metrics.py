"""``/metrics``: the server's counters in Prometheus's text format (prometheus-client), on the API's port.

Two kinds of numbers, kept two ways:

- **Per call** (requests by service, operation and outcome; latency; authorization decisions by outcome and
  reason): :class:`Metrics` is a :class:`~kmsd.audit.call_record.CallObserver` and adds each finished call
  to prometheus-client's counters and histogram.  Label values come from fixed sets only: the service and
  operation when the service models name them (else ``unknown``; never the raw ``X-Amz-Target`` or
  ``Action``), an error code of at most ``MAX_ERROR_CODES`` distinct well-formed codes (then ``Other``),
  and the decision reasons of :mod:`kmsd.authz.decision_reasons` and :mod:`kmsd.iam.authorization`.
  A label set's child is looked up once and kept, so a call costs a dictionary lookup and a few additions.
- **Kept by the packages below** (cache hits and misses, store statements and their seconds, gauges such as
  the audit queue's depth): those packages must not import Prometheus (docs/architecture.md, the layering
  table), so they keep plain integers, and :meth:`Metrics.publish` copies their growth into Prometheus
  counters (and sets the gauges) when ``/metrics`` is scraped, and every ``PUBLISH_SECONDS`` in the
  background under ``kmsd serve --workers``.

With ``--workers N`` a scrape reaches one worker, chosen by the kernel.  Counters that each scrape saw from
a different worker would jump up and down, which Prometheus reads as resets, so the workers share
prometheus-client's multiprocess mode: every process writes its values to files in one directory that the
parent made for this server (``PROMETHEUS_MULTIPROC_DIR``), and whichever worker is scraped adds up every
process's files, those of a worker that died included (its counts happened).  The plain counters of the
workers that are not scraped reach the files within ``PUBLISH_SECONDS``.

``/metrics`` holds no secret and no account, principal or key identifier: counts by operation, outcome,
reason and cache.  It is served without authentication by default, like ``/health`` and as Prometheus
scrapes by default; ``kmsd serve --metrics-token-file FILE`` requires ``Authorization: Bearer <token>``,
and ``--metrics off`` answers 404.
"""

from __future__ import annotations

import hmac
import os
import re
import threading
from collections.abc import Callable, Mapping
from time import perf_counter
from typing import Any

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from kmsd.audit.call_record import CallRecord
from kmsd.iam.credentials import CredentialResolver
from kmsd.kms.service import KmsService
from kmsd.store.base import Store

# Finer than prometheus-client's default at the low end: an Encrypt is answered in a fraction of a millisecond.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Error codes are AWS's, from kmsd's own code; the bound only guards the label set against a bug.
MAX_ERROR_CODES = 256
OTHER_ERROR_CODE = "Other"
UNKNOWN = "unknown"
# How often each worker copies its plain counters into the shared files (kmsd serve --workers).
PUBLISH_SECONDS = 1.0

_ERROR_CODE = re.compile(r"[A-Za-z][A-Za-z0-9.]{0,99}")


class Metrics:
    """The metrics of one server process: a call observer, the plain counters' publisher, and the ``/metrics`` page.

    ``token``: the bearer token a scrape must present (None: none needed).  ``multiprocess_dir``: the directory
    the workers of ``kmsd serve --workers`` share (prometheus-client's multiprocess mode), or None.
    """

    def __init__(self, *, token: str | None = None, multiprocess_dir: str | None = None) -> None:
        # Counters as Prometheus names them (requests_total), without the _created series beside each.
        prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]
        self._token = token.encode() if token is not None else None
        self.multiprocess_dir = multiprocess_dir
        registry = self._registry = CollectorRegistry()
        self._requests = Counter(
            "kmsd_requests",
            "API requests answered, by service, operation, outcome (success, client_error, server_error) and "
            "AWS error code",
            ("service", "operation", "outcome", "error_code"),
            registry=registry,
        )
        self._latency = Histogram(
            "kmsd_request_duration_seconds",
            "Time from a request's arrival to its answer being ready, by service and operation",
            ("service", "operation"),
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self._decisions = Counter(
            "kmsd_authorization_decisions",
            "Authorization decisions (one per permission a call needs), by service, outcome "
            "(allow, explicit-deny, implicit-deny) and reason",
            ("service", "outcome", "reason"),
            registry=registry,
        )
        self._cache_hits = Counter(
            "kmsd_cache_hits", "Lookups answered from a cache, by cache", ("cache",), registry=registry
        )
        self._cache_misses = Counter(
            "kmsd_cache_misses",
            "Lookups a cache could not answer (read from the store), by cache",
            ("cache",),
            registry=registry,
        )
        self._statements = Counter(
            "kmsd_store_statements", "Store statements run, by kind (read, write, commit)", ("kind",), registry=registry
        )
        self._statement_seconds = Counter(
            "kmsd_store_statement_seconds",
            "Time spent in store statements, by kind (read, write, commit)",
            ("kind",),
            registry=registry,
        )
        self._gauges: list[tuple[Gauge, Callable[[], float]]] = []
        self._operations: Mapping[str, frozenset[str]] = {}
        self._sources: tuple[CredentialResolver, KmsService, Store] | None = None
        self._error_codes: set[str] = set()
        self._request_children: dict[tuple[str, str, str, str], Any] = {}
        self._latency_children: dict[tuple[str, str], Any] = {}
        self._decision_children: dict[tuple[str, str, str], Any] = {}
        # What publish() has copied so far, by (metric, label): it adds only the growth since.
        self._published: dict[tuple[str, str], float] = {}
        self._publish_lock = threading.Lock()
        if multiprocess_dir is not None:
            # Every process's files, added up; this process's own metrics are among them.
            self._exposition = CollectorRegistry()
            MultiProcessCollector(self._exposition, multiprocess_dir)  # type: ignore[no-untyped-call]
        else:
            self._exposition = registry

    def attach(
        self, credentials: CredentialResolver, kms: KmsService, store: Store, operations: Mapping[str, frozenset[str]]
    ) -> None:
        """Read the caches of ``credentials`` and ``kms`` and the counters of ``store`` when scraped; ``operations``:
        the operation names of each service served."""
        self._sources = (credentials, kms, store)
        self._operations = operations

    def add_gauge_source(self, name: str, help_text: str, read: Callable[[], float]) -> None:
        """A gauge ``name`` whose value ``read()`` gives when scraped (e.g. the audit trail's queue depth).

        Under ``--workers`` the gauge is the sum over the live workers.
        """
        gauge = Gauge(name, help_text, registry=self._registry, multiprocess_mode="livesum")
        self._gauges.append((gauge, read))

    # --- per call -----------------------------------------------------------------------

    def call_finished(self, record: CallRecord) -> None:
        """Count one finished call (kmsd.audit.call_record.CallObserver); it runs on every request."""
        elapsed = perf_counter() - record.started
        operations = self._operations.get(record.service)
        if operations is None:
            service = operation = UNKNOWN
        else:
            service = record.service
            operation = record.operation if record.operation in operations else UNKNOWN
        error = record.error
        if error is None:
            key = (service, operation, "success", "")
        else:
            outcome = "server_error" if error.status >= 500 else "client_error"
            key = (service, operation, outcome, self._code(error.code))
        child = self._request_children.get(key)
        if child is None:
            child = self._request_children[key] = self._requests.labels(*key)
        child.inc()
        timing = self._latency_children.get((service, operation))
        if timing is None:
            timing = self._latency_children[(service, operation)] = self._latency.labels(service, operation)
        timing.observe(elapsed)
        for decision in record.notes.decisions:
            labels = (decision.service, decision.outcome, decision.reason)
            counted = self._decision_children.get(labels)
            if counted is None:
                counted = self._decision_children[labels] = self._decisions.labels(*labels)
            counted.inc()

    def _code(self, code: str) -> str:
        if code in self._error_codes:
            return code
        if len(self._error_codes) >= MAX_ERROR_CODES or not _ERROR_CODE.fullmatch(code):
            return OTHER_ERROR_CODE
        self._error_codes.add(code)
        return code

    # --- kept by the packages below -----------------------------------------------------

    def publish(self) -> None:
        """Copy the growth of the plain counters (caches, store statements) into Prometheus, and set the gauges."""
        if self._sources is None:
            return
        credentials, kms, store_counted = self._sources
        with self._publish_lock:
            counts = {"credentials": (credentials.cache_hits, credentials.cache_misses)}
            counts.update(kms.cache_counts())
            store = store_counted.counters
            counts["key_records"] = (store.key_cache_hits, store.key_cache_misses)
            for cache, (hits, misses) in counts.items():
                self._add(self._cache_hits, "hits", cache, hits)
                self._add(self._cache_misses, "misses", cache, misses)
            for kind, count, seconds in (
                ("read", store.reads, store.read_seconds),
                ("write", store.writes, store.write_seconds),
                ("commit", store.commits, store.commit_seconds),
            ):
                self._add(self._statements, "statements", kind, count)
                self._add(self._statement_seconds, "seconds", kind, seconds)
            for gauge, read in self._gauges:
                gauge.set(read())

    def _add(self, counter: Counter, metric: str, label: str, total: float) -> None:
        before = self._published.get((metric, label), 0)
        # A plain counter only grows; a lost increment (see kmsd.store.base.StoreCounters) never makes it shrink.
        if total > before:
            counter.labels(label).inc(total - before)
            self._published[(metric, label)] = total
        elif (metric, label) not in self._published:
            counter.labels(label)  # present from the first scrape, at 0
            self._published[(metric, label)] = total

    def stopped(self) -> None:
        """This process stops serving: publish a last time, and take its gauges out of the workers' sum."""
        self.publish()
        if self.multiprocess_dir is not None:
            mark_process_dead(os.getpid(), self.multiprocess_dir)  # type: ignore[no-untyped-call]

    # --- the page --------------------------------------------------------------------------

    def authorized(self, authorization: str | None) -> bool:
        """Whether a scrape with this ``Authorization`` header may read the page."""
        if self._token is None:
            return True
        if authorization is None or not authorization.startswith("Bearer "):
            return False
        return hmac.compare_digest(authorization[len("Bearer ") :].strip().encode(), self._token)

    def page(self, accept: str | None) -> tuple[bytes, str]:
        """The page in the format ``accept`` asks for (Prometheus text by default), and its content type."""
        self.publish()
        encode, content_type = choose_encoder(accept or "")
        return encode(self._exposition), content_type
