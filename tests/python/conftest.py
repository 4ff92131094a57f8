"""Shared fixtures and helpers of the Python test suite."""

from __future__ import annotations

import os
from typing import Any, Callable, Iterator, Optional

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import zeptodb

# Property tests stay small so the whole suite runs in seconds; set
# HYPOTHESIS_PROFILE=thorough for a longer local run.
settings.register_profile("default", max_examples=40, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

T0 = 1_711_000_000_000_000_000  # 2024-03-21 05:46:40 UTC, in ns


def make_pipeline(**config: Any) -> zeptodb.Pipeline:
    """A pipeline with the given PipelineConfig fields (defaults otherwise)."""
    return zeptodb.Pipeline(zeptodb.PipelineConfig(**config)) if config else zeptodb.Pipeline()


@pytest.fixture
def pipeline() -> Iterator[zeptodb.Pipeline]:
    """A fresh pipeline without a drain thread; stopped at teardown."""
    p = zeptodb.Pipeline()
    yield p
    p.stop()


@pytest.fixture
def running() -> Iterator[zeptodb.Pipeline]:
    """A fresh pipeline whose background drain thread is running."""
    p = zeptodb.Pipeline()
    p.start()
    yield p
    p.stop()


def i64(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=np.int64)


def column(p: zeptodb.Pipeline, symbol: Any, name: str, table: str = "trades") -> list:
    """A column of one symbol as a plain list (for readable comparisons)."""
    return p.get_column(symbol=symbol, name=name, table=table).tolist()


def row_counts(p: zeptodb.Pipeline) -> dict:
    """Rows per table plus the stored/accepted counters: what a rejected batch must not change."""
    s = p.stats()
    counts = {t: p.row_count(t) for t in p.tables()}
    counts["<stored>"] = s.ticks_stored
    counts["<ingested>"] = s.ticks_ingested
    return counts


def assert_rejected(p: zeptodb.Pipeline, exc: type, match: Optional[str], call: Callable[[], Any]) -> Any:
    """`call` raises `exc` whose message matches `match`, and stores nothing."""
    before = row_counts(p)
    with pytest.raises(exc, match=match) as info:
        call()
    assert row_counts(p) == before, "a rejected batch changed the stored rows"
    return info


def trades(p: zeptodb.Pipeline, symbol: Any) -> list:
    """(timestamp, price, volume) rows of one symbol of `trades`, in stored order."""
    return list(zip(column(p, symbol, "timestamp"), column(p, symbol, "price"),
                    column(p, symbol, "volume")))

