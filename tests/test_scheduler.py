"""The daemon's wiring, in-process: one cron job per source in the configured zone, serialised
runs, and a job that runs the real pipeline against the loopback servers."""

from __future__ import annotations

import sqlite3
import textwrap
import threading
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.app import build_app
from bot.config import load_settings
from bot.scheduler import _job, build_scheduler, missed_runs, next_runs
from bot.sources.base import cron_trigger
from bot.state import heartbeat
from tests.conftest import FIXTURES
from tests.fixture_server import FixtureServer, Reply


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
        http: {{backoff: 0.01, retries: 0, allow_private: true}}
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
            _job(app, ["hf_daily"], threading.Event())
            assert app.store.paper_count() == 30
            assert {r.query["date"] for r in hf.requests_to("/api/daily_papers")} >= {today}
            assert "Revisiting Lossy Verification" in capsys.readouterr().out  # console digest
            stop = threading.Event()
            stop.set()
            before = len(hf.requests)
            _job(app, ["hf-weekend"], stop)  # a stop request: the run ends before fetching
            assert len(hf.requests) == before
        finally:
            app.close()


def test_a_dripping_source_does_not_hold_the_daemon(tmp_path: Path) -> None:
    # Jobs share one thread: a job that never ended would block every later one. A source that
    # drips its answer (never silent long enough for a timeout) ends at the run's deadline.
    with FixtureServer() as hf:
        hf.script("/api/daily_papers", [Reply(200, b"[]" * 200, drip_s=0.2)])
        config = make_config(tmp_path, hf.base_url)
        config.write_text(config.read_text().replace("retries: 0,", "retries: 0, run_deadline: 1,"))
        app = build_app(load_settings(config), env={})
        try:
            job = threading.Thread(target=_job, args=(app, ["hf_daily"], threading.Event()))
            job.start()
            job.join(timeout=30)  # the drip alone would last 80 s
            assert not job.is_alive()
            with sqlite3.connect(tmp_path / "state.sqlite3") as db:
                rows = db.execute(
                    "SELECT health, error FROM fetches WHERE source = 'hf_daily'"
                ).fetchall()
            assert rows  # the look-back day and today, each failed, owed to the next run
            assert {health for health, _ in rows} == {"failed"}
            assert "http.run_deadline" in rows[0][1]
        finally:
            app.close()


# ---- daylight saving time: the schedule fires at the configured local time ------------------

NEW_YORK, BERLIN = ZoneInfo("America/New_York"), ZoneInfo("Europe/Berlin")


def _fires(schedule: str, zone: ZoneInfo, start: datetime, count: int) -> list[datetime]:
    trigger = cron_trigger(schedule, zone)
    fire = trigger.get_next_fire_time(None, start)
    fires = []
    while fire is not None and len(fires) < count:
        # In UTC: an aware datetime in a DST gap or fold never compares equal across zones.
        fires.append(fire.astimezone(UTC))
        fire = trigger.get_next_fire_time(fire, fire)
    return fires


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("zone", "start", "before", "after"),
    [
        # 2026: New York springs forward on Sun 8 March and falls back on Sun 1 November.
        (NEW_YORK, datetime(2026, 3, 5, 12), _utc(2026, 3, 6, 14), _utc(2026, 3, 9, 13)),
        (NEW_YORK, datetime(2026, 10, 29, 12), _utc(2026, 10, 30, 13), _utc(2026, 11, 2, 14)),
        # Berlin: Sun 29 March and Sun 25 October.
        (BERLIN, datetime(2026, 3, 26, 12), _utc(2026, 3, 27, 8), _utc(2026, 3, 30, 7)),
        (BERLIN, datetime(2026, 10, 22, 12), _utc(2026, 10, 23, 7), _utc(2026, 10, 26, 8)),
    ],
)
def test_weekday_runs_stay_at_9_local_across_dst(
    zone: ZoneInfo, start: datetime, before: datetime, after: datetime
) -> None:
    fires = _fires("0 9 * * mon-fri", zone, start.replace(tzinfo=zone), 2)
    # Friday before the change, the Monday after it: both at 9:00 local, an hour apart in UTC.
    assert fires == [before, after]
    assert [f.astimezone(zone).strftime("%a %H:%M") for f in fires] == ["Fri 09:00", "Mon 09:00"]


@pytest.mark.parametrize(
    ("zone", "start", "expected"),
    [
        # 02:30 does not exist on the spring-forward night: it runs once, at 03:30 by the clock.
        (
            NEW_YORK,
            datetime(2026, 3, 7, 12),
            [_utc(2026, 3, 8, 7, 30), _utc(2026, 3, 9, 6, 30), _utc(2026, 3, 10, 6, 30)],
        ),
        (
            BERLIN,
            datetime(2026, 3, 28, 12),
            [_utc(2026, 3, 29, 1, 30), _utc(2026, 3, 30, 0, 30), _utc(2026, 3, 31, 0, 30)],
        ),
    ],
)
def test_a_run_in_the_skipped_hour_fires_once(
    zone: ZoneInfo, start: datetime, expected: list[datetime]
) -> None:
    assert _fires("30 2 * * *", zone, start.replace(tzinfo=zone), 3) == expected


@pytest.mark.parametrize(
    ("zone", "schedule", "start", "expected"),
    [
        # 01:30 happens twice when New York falls back; APScheduler alone fires at both.
        (
            NEW_YORK,
            "30 1 * * *",
            datetime(2026, 10, 31, 12),
            [_utc(2026, 11, 1, 5, 30), _utc(2026, 11, 2, 6, 30)],
        ),
        (
            BERLIN,
            "30 2 * * *",
            datetime(2026, 10, 24, 12),
            [_utc(2026, 10, 25, 0, 30), _utc(2026, 10, 26, 1, 30)],
        ),
        # Several firings inside the repeated hour: each wall time once.
        (
            BERLIN,
            "*/20 2 * * *",
            datetime(2026, 10, 24, 12),
            [
                *(_utc(2026, 10, 25, 0, 0), _utc(2026, 10, 25, 0, 20)),
                *(_utc(2026, 10, 25, 0, 40), _utc(2026, 10, 26, 1, 0)),
            ],
        ),
    ],
)
def test_a_run_in_the_repeated_hour_fires_once(
    zone: ZoneInfo, schedule: str, start: datetime, expected: list[datetime]
) -> None:
    assert _fires(schedule, zone, start.replace(tzinfo=zone), len(expected)) == expected


def test_a_daemon_started_inside_the_repeated_hour_still_runs() -> None:
    # Started at 01:10 EST, after the 01:30 EDT firing it never saw: 01:30 EST is its run.
    start = datetime(2026, 11, 1, 1, 10, fold=1, tzinfo=NEW_YORK)
    assert _fires("30 1 * * *", NEW_YORK, start, 1) == [_utc(2026, 11, 1, 6, 30)]


@pytest.mark.parametrize(
    ("since", "now", "missed"),
    [
        (datetime(2026, 11, 23, 9, 0), datetime(2026, 11, 23, 10, 0), 0),  # ran on time
        (datetime(2026, 11, 23, 8, 59), datetime(2026, 11, 23, 9, 0), 1),
        (datetime(2026, 11, 18, 10, 0), datetime(2026, 11, 23, 10, 0), 3),  # Thu, Fri, Mon
        (datetime(2026, 11, 20, 10, 0), datetime(2026, 11, 22, 23, 0), 0),  # the weekend
    ],
)
def test_missed_runs_counts_firings_since_the_last_run(
    since: datetime, now: datetime, missed: int
) -> None:
    trigger = cron_trigger("0 9 * * mon-fri", BERLIN)
    assert missed_runs(trigger, since.replace(tzinfo=BERLIN), now.replace(tzinfo=BERLIN)) == missed


def test_six_field_schedules_have_seconds(tmp_path: Path) -> None:
    fires = _fires("*/15 * * * * *", BERLIN, datetime(2026, 1, 5, 9, 0, 1, tzinfo=BERLIN), 3)
    assert [f.second for f in fires] == [15, 30, 45]


# ---- the heartbeat ----------------------------------------------------------------------


def test_heartbeat_is_healthy_until_a_scheduled_run_is_missed(tmp_path: Path) -> None:
    config = make_config(tmp_path, "http://127.0.0.1:9")
    # Only the weekday job (08:30 mon-fri): a weekend is quiet.
    config.write_text(
        config.read_text().split("  - kind: hf_daily\n    name: hf-weekend")[0]
        + "http: {backoff: 0.01, retries: 0, allow_private: true}\n"
    )
    settings = load_settings(config)
    friday = datetime(2026, 11, 20, 18, 0, tzinfo=BERLIN)
    assert not heartbeat.check(settings, friday).ok  # the daemon never started
    heartbeat.beat(settings, "run ok", now=friday)
    assert heartbeat.check(settings, friday).ok
    # Quiet through the weekend (no firing), still fine until Monday's run is 1 h overdue.
    assert heartbeat.check(settings, datetime(2026, 11, 23, 9, 29, tzinfo=BERLIN)).ok
    late = heartbeat.check(settings, datetime(2026, 11, 23, 9, 31, tzinfo=BERLIN))
    assert not late.ok
    assert "no good run since the one due at 2026-11-23T08:30:00+01:00" in late.message
    heartbeat.beat(settings, "run ok", now=datetime(2026, 11, 23, 9, 40, tzinfo=BERLIN))
    assert heartbeat.check(settings, datetime(2026, 11, 23, 9, 41, tzinfo=BERLIN)).ok


def test_an_unchanged_profile_is_not_parsed_again_but_a_library_is_read_every_run(
    tmp_path: Path,
) -> None:
    """The daemon re-reads the profiles folder every run: a file whose text is unchanged is
    served from the last parse (the same object), an edited one is parsed, and a profile that
    reads a BibTeX file is read again every run (the .bib may change under an unchanged YAML)."""
    app = build_app(load_settings(make_config(tmp_path, "http://127.0.0.1:9")), env={})
    try:
        bib = tmp_path / "profiles" / "mine.bib"
        bib.write_text((FIXTURES / "bibtex_multivae-joss-paper_2025-06_30entries.bib").read_text())
        (tmp_path / "profiles" / "vae.yaml").write_text(
            "name: VAEs\ndescription: Multimodal VAEs.\nlibrary:\n  bibtex: mine.bib\n"
        )
        first = {p.id: p for p in app.load_profiles()[0]}
        second = {p.id: p for p in app.load_profiles()[0]}
        assert second["spec"] is first["spec"]

        bib.write_text(bib.read_text().split("\n@")[0] + "\n")  # only its first entry left
        third = {p.id: p for p in app.load_profiles()[0]}
        assert len(third["vae"].library_papers) < len(first["vae"].library_papers)
        assert third["spec"] is first["spec"]

        spec = tmp_path / "profiles" / "spec.yaml"
        spec.write_text(spec.read_text().replace("min_score:", "max_per_digest: 3\nmin_score:"))
        fourth = {p.id: p for p in app.load_profiles()[0]}
        assert fourth["spec"].max_per_digest == 3
    finally:
        app.close()


# ---- live profiles: the last good version keeps serving ----------------------------------


def test_a_broken_edit_keeps_the_last_good_profile(tmp_path: Path) -> None:
    app = build_app(load_settings(make_config(tmp_path, "http://127.0.0.1:9")), env={})
    try:
        spec = tmp_path / "profiles" / "spec.yaml"
        (tmp_path / "profiles" / "new.yaml").write_text("name: New\ndescription: [broken\n")
        good, errors = app.load_profiles()
        assert [p.id for p in good] == ["spec"]  # a file that never loaded has nothing to keep
        assert [e.file for e in errors] == [str(tmp_path / "profiles" / "new.yaml")]

        spec.write_text("name: Spec v2\ndescription: draft model verification\nmin_score: 0.3\n")
        assert [p.name for p in app.load_profiles()[0]] == ["Spec v2"]  # edits are picked up

        spec.write_text("name: Spec v3\ndescription: draft\nmin_score: high\n")
        profiles, errors = app.load_profiles()
        assert [p.name for p in profiles] == ["Spec v2"]  # still served...
        assert any("spec.yaml:3: min_score" in str(e) for e in errors)  # ...and still reported

        spec.unlink()  # a removed profile is gone, broken or not
        assert app.load_profiles()[0] == []
    finally:
        app.close()
