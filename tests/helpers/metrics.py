"""Scraping a real server's ``/metrics`` over HTTP and reading it with Prometheus's own text parser."""

from __future__ import annotations

import http.client
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Scrape:
    """One scrape: the page as served, and each sample's value by its name and labels."""

    text: str
    samples: dict[tuple[str, Labels], float]
    worker: str | None  # x-kmsd-worker: the process that answered (kmsd serve --workers)

    def value(self, name: str, **labels: str) -> float:
        """A sample's value; 0 when the series does not exist yet (a counter that never moved)."""
        return self.samples.get((name, tuple(sorted(labels.items()))), 0.0)

    def total(self, name: str, **labels: str) -> float:
        """The sum of the samples of ``name`` whose labels include ``labels``."""
        wanted = set(labels.items())
        return sum(value for (sample, found), value in self.samples.items() if sample == name and wanted <= set(found))


def parse(text: str, worker: str | None = None) -> Scrape:
    samples: dict[tuple[str, Labels], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return Scrape(text, samples, worker)


def get(port: int, path: str = "/metrics", headers: dict[str, str] | None = None) -> tuple[int, str, dict[str, str]]:
    """GET ``path`` on a new connection: the status, the body and the headers (lower-case names)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        body = response.read().decode()
        return response.status, body, {name.lower(): value for name, value in response.getheaders()}
    finally:
        connection.close()


def scrape(port: int, token: str | None = None) -> Scrape:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    status, body, response_headers = get(port, headers=headers)
    assert status == 200, body
    assert response_headers["content-type"].startswith("text/plain"), response_headers
    return parse(body, response_headers.get("x-kmsd-worker"))


def scrape_on(connection: http.client.HTTPConnection) -> Scrape:
    """Scrape on a kept-alive connection (pinned to one worker of kmsd serve --workers)."""
    connection.request("GET", "/metrics")
    response = connection.getresponse()
    body = response.read().decode()
    assert response.status == 200, body
    return parse(body, response.getheader("x-kmsd-worker"))
