"""The daemon's wiring, in-process: one cron job per source in the configured zone, serialised
runs, and a job that runs the real pipeline against the loopback servers."""

from __future__ import annotations

import textwrap
import threading
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.app import build_app
from bot.config import load_settings
from bot.scheduler import _job, build_scheduler, next_runs
from tests.conftest import FIXTURES
from tests.fixture_server import FixtureServer


def make_config(tmp_path: Path, base_url: str, tz: str = "Europe/Berlin") -> Path:
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "spec.yaml").write_text(
        "name: Spec\ndescription: speculative decoding draft model verification\nmin_score: 0.2\n"
    )
    path = tmp_path / "bot.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        timezone: {tz}
        state: state.sqlite3
        sources:
          - kind: hf_daily
            schedule: "30 8 * * mon-fri"
            base_url: {base_url}
          - kind: hf_daily
            name: hf-weekend
            schedule: "0 12 * * sat,sun"
            base_url: {base_url}
        http: {{backoff: 0.01, retries: 0}}
        """)
    )
    return path


def test_one_job_per_source_in_the_configured_zone(tmp_path: Path) -> None:
    app = build_app(load_settings(make_config(tmp_path, "http://127.0.0.1:9")), env={})
    try:
        scheduler = build_scheduler(app, threading.Event())
        berlin = ZoneInfo("Europe/Berlin")
        # Friday 2026-03-27 evening; DST starts in Berlin on Sunday 2026-03-29.
        runs = next_runs(scheduler, datetime(2026, 3, 27, 20, 0, tzinfo=berlin))
        assert runs == {
            "fetch hf_daily": datetime(2026, 3, 30, 8, 30, tzinfo=berlin),
            "fetch hf-weekend": datetime(2026, 3, 28, 12, 0, tzinfo=berlin),
        }
        assert runs["fetch hf_daily"].utcoffset().total_seconds() == 7200  # CEST after the change
        for job in scheduler.get_jobs():
            assert (job.coalesce, job.max_instances) == (True, 1)
            assert job.misfire_grace_time >= 3600
    finally:
        app.close()


def test_a_job_runs_the_pipeline_for_its_source(tmp_path: Path, capsys) -> None:
    with FixtureServer() as hf:
        today = datetime.now(ZoneInfo("Europe/Berlin")).date().isoformat()
        hf.serve_hf_day(today, FIXTURES / "hf_daily_papers_2026-07-31_30items.json")
        app = build_app(load_settings(make_config(tmp_path, hf.base_url)), env={})
        try:
            _job(app, "hf_daily", threading.Event())
            assert app.store.paper_count() == 30
            assert {r.query["date"] for r in hf.requests_to("/api/daily_papers")} >= {today}
            assert "Revisiting Lossy Verification" in capsys.readouterr().out  # console digest
            stop = threading.Event()
            stop.set()
            before = len(hf.requests)
            _job(app, "hf-weekend", stop)  # a stop request: the run ends before fetching
            assert len(hf.requests) == before
        finally:
            app.close()
