"""Concurrent reading: the same rows as a sequential run, bounded speculation past the end, a
shared client-side rate limit, and retried 429s."""

import itertools
import threading

from requests.adapters import HTTPAdapter

from conftest import (
    artifact_requests,
    expected_artifacts,
    loaded_artifacts,
    make_pipeline,
    normalize_times,
    readable_registries,
    run_source,
)
from harness_registry.ratelimit import RateLimiter


def python_registry(emulator) -> str:
    return next(
        r["path"]
        for r in emulator.dataset()["registries"]
        if r["packageType"] == "PYTHON" and not r.get("forbidden") and not r.get("deleted")
    )


def test_concurrent_run_loads_exactly_the_rows_of_a_sequential_run(emulator, tmp_path):
    refs = readable_registries(emulator)
    sequential = make_pipeline(tmp_path / "seq", "seq")
    concurrent = make_pipeline(tmp_path / "conc", "conc")
    seq_report, _ = run_source(emulator, sequential, registries=refs, page_size=6, concurrency=1)
    conc_report, _ = run_source(emulator, concurrent, registries=refs, page_size=6, concurrency=4)
    expected = expected_artifacts(emulator, refs)
    assert normalize_times(loaded_artifacts(sequential)) == expected
    assert normalize_times(loaded_artifacts(concurrent)) == expected
    assert {r: x.rows_loaded for r, x in seq_report.registries.items()} == {
        r: x.rows_loaded for r, x in conc_report.registries.items()
    }


def test_pages_fetched_ahead_past_the_end_stay_below_the_window(emulator, pipeline):
    ref = python_registry(emulator)
    count = len(emulator.dataset()["artifacts"][ref])
    page_size, concurrency = 10, 4
    report, _ = run_source(
        emulator, pipeline, registries=[ref], page_size=page_size, concurrency=concurrency
    )
    pages = sorted(int(r["query"]["page"][0]) for r in artifact_requests(emulator, ref))
    needed = count // page_size + 1  # full pages and the page that proves the end
    first_page = artifact_requests(emulator, ref)[0]
    assert first_page["query"]["page"] == ["0"]
    # pageCount overstates this registry, so requests past the proof happen, but at most window - 1
    assert pages[:needed] == list(range(needed))
    assert needed <= len(pages) <= needed + concurrency - 1
    assert pages == list(range(len(pages)))
    assert report.registries[ref].wasted_requests == len(pages) - needed
    assert report.registries[ref].rows_loaded == count


def test_requests_in_flight_never_exceed_concurrency(emulator, pipeline, monkeypatch):
    emulator.set_config(latency_ms=30)
    refs = readable_registries(emulator)
    in_flight = 0
    peak = 0
    lock = threading.Lock()
    original_send = HTTPAdapter.send

    def counting_send(self, request, **kwargs):
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        try:
            return original_send(self, request, **kwargs)
        finally:
            with lock:
                in_flight -= 1

    monkeypatch.setattr(HTTPAdapter, "send", counting_send)
    run_source(emulator, pipeline, registries=refs, page_size=5, concurrency=3)
    assert peak == 3


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_rate_limiter_spaces_requests_evenly():
    clock = FakeClock()
    limiter = RateLimiter(600, clock=clock, sleep=clock.sleep)
    starts = []
    for _ in range(5):
        limiter.acquire()
        starts.append(clock.now)
    gaps = [round(b - a, 9) for a, b in itertools.pairwise(starts)]
    assert gaps == [0.1, 0.1, 0.1, 0.1]
    assert [round(s, 9) for s in clock.sleeps] == [0.1, 0.1, 0.1, 0.1]


def test_rate_limiter_does_not_make_up_for_idle_time_with_a_burst():
    clock = FakeClock()
    limiter = RateLimiter(60, clock=clock, sleep=clock.sleep)
    limiter.acquire()
    clock.now += 30  # idle
    assert limiter.acquire() == 0
    assert limiter.acquire() == 1.0


def test_rate_limiter_off_never_waits():
    clock = FakeClock()
    limiter = RateLimiter(0, clock=clock, sleep=clock.sleep)
    assert [limiter.acquire() for _ in range(100)] == [0.0] * 100
    assert clock.sleeps == []


def test_client_limit_keeps_a_rate_limited_server_from_throttling(emulator, tmp_path):
    """Against a server enforcing 300/min with one second of burst, an unlimited concurrent client
    is throttled, and the same run with the client limited to 300/min is not (or barely)."""
    refs = readable_registries(emulator)
    emulator.set_config(rate_limit_per_minute=300)
    unlimited, _ = run_source(
        emulator, make_pipeline(tmp_path / "a", "a"), registries=refs, page_size=20, concurrency=4
    )
    assert unlimited.throttled > 0
    emulator.reset_log()
    limited, _ = run_source(
        emulator,
        make_pipeline(tmp_path / "b", "b"),
        registries=refs,
        page_size=20,
        concurrency=4,
        requests_per_minute=300,
    )
    assert limited.throttled <= 1
    assert emulator.stats()["throttled"] == limited.throttled
    assert limited.failures == []
    truth = emulator.dataset()["artifacts"]
    assert limited.rows_loaded == sum(len(truth[ref]) for ref in refs)


def test_429_answers_are_retried_and_counted(emulator, pipeline):
    ref = python_registry(emulator)
    emulator.add_faults([{"kind": "status", "status": 429, "match": ref, "page": 1, "times": 2}])
    report, _ = run_source(emulator, pipeline, registries=[ref], page_size=50, concurrency=1)
    assert report.failures == []
    assert report.throttled == 2
    pages = [r["query"]["page"][0] for r in artifact_requests(emulator, ref)]
    assert pages[:4] == ["0", "1", "1", "1"]
    assert normalize_times(loaded_artifacts(pipeline)) == expected_artifacts(emulator, [ref])
