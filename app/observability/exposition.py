"""Reading the metrics back for a scrape: every process of this host, in Prometheus's text
format."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Protocol

from app.observability.metrics import metrics
from app.observability.process_files import shared_metrics_dir

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client.metrics_core import Metric


class Collector(Protocol):
    """What prometheus-client asks of a collector: the metrics as they are at scrape time."""

    def collect(self) -> Iterable[Metric]: ...


def host_registry(*collectors: Collector) -> CollectorRegistry:
    """A registry reading every process of this host (their shared files), or only this process
    when its metrics stay in memory, plus `collectors` read at scrape time."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    # Collectors are not asked to describe themselves: a scrape-time read happens at scrapes only.
    registry = CollectorRegistry(auto_describe=False)
    directory = shared_metrics_dir()
    if directory is not None:
        MultiProcessCollector(registry, path=str(directory))
    else:
        registry.register(_ThisProcess())
    for collector in collectors:
        registry.register(collector)  # type: ignore[arg-type]
    return registry


def text_format(registry: CollectorRegistry) -> tuple[bytes, str]:
    """The registry's metrics in Prometheus's text format, and its content type."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return generate_latest(registry), CONTENT_TYPE_LATEST


class _ThisProcess:
    """This process's metrics, kept in its memory (no shared directory was prepared)."""

    def collect(self) -> Iterator[Metric]:
        yield from metrics().registry.collect()
