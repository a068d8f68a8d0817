"""Scale, measured by hand (not in CI; issue 17): one institution's day on a PostgreSQL state.

    .venv/bin/python -u bench/scale.py [--profiles 10000] [--papers 1000] [--workers 1,2,4]
                                       [--kills 3] [--lease 20]

What it does, all on this machine and on loopback:

1. a PostgreSQL server (tests/pg_server.py: the `pgserver` wheel's binaries, as in the tests);
2. a loopback HTTP server answering Hugging Face's Daily Papers API
   (`/api/daily_papers?date=&limit=&p=`) with real arXiv papers from ../shared/bench/daily_arxiv
   (read in place): each item is the recorded item of tests/fixtures/
   hf_daily_papers_2026-07-31_30items.json with id, title, abstract, authors and dates replaced
   by one real paper's ("derived");
3. a corpus: `--corpus-days` earlier days stored by one real `digestbot once` run (no profiles
   yet, so nothing is sent), then `--profiles` profile files (20 arXiv topics x keyword subsets
   x thresholds, each with its own email recipient), marked as served (a steady-state day: no
   first digests);
4. **ingest**: one `digestbot once` for the measured day (`--papers` new papers) with the mail
   server down: it fetches, scores every profile, records, and its deliveries fail and stay
   queued (wall time and peak RSS of that process; the scoring time itself is printed by
   bench/speed.py's in-process measure); `digestbot retry` makes them due again; that database
   is the template of every delivery run below;
5. **delivery**: for 1, 2 and 4 workers, a copy of the template (`CREATE DATABASE ... TEMPLATE`),
   an aiosmtpd server on loopback counting messages by Message-ID, and N `digestbot once`
   processes started together: messages, wall time, messages/s, peak RSS per worker (wait4);
6. **SIGKILL**, `--kills` times: 4 workers on a fresh copy; when a quarter of the expected
   messages have arrived, one worker is killed with SIGKILL; the others finish; after the lease
   has passed, one more `digestbot once` (the next scheduled run) sends what the dead worker had
   claimed. Lost = expected messages never received; duplicated = messages received twice.

Expected messages = the distinct (recipient, digest day) groups queued in the template.
"""

from __future__ import annotations

import argparse
import copy
import gzip
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from aiosmtpd.controller import Controller  # noqa: E402

from tests.pg_server import PgServer  # noqa: E402

DAYS = (
    Path(os.environ.get("DIGESTBOT_BENCH", ROOT.parent / "shared" / "bench"))
    / "daily_arxiv"
    / "days"
)
TEMPLATE_ITEM = ROOT / "tests" / "fixtures" / "hf_daily_papers_2026-07-31_30items.json"
PASSWORD = "bench-pg-password"

# The same 20 topics as bench/speed.py (keywords from arXiv's category descriptions).
from speed import TOPICS  # noqa: E402


# ------------------------------------------------------------------------------ the source
def real_days(n_days: int, papers: int) -> list[list[dict[str, Any]]]:
    """`n_days` batches of `papers` real papers each, the archive's last unique papers in
    announcement order (an archive day lists 300-900 new ones: a batch of 1,000 is about two
    days of cs.CV + cs.CL + cs.AI, as a busy institution's sources would list in one day)."""
    unique: dict[str, dict[str, Any]] = {}
    for file in sorted(DAYS.glob("*.jsonl.gz")):
        with gzip.open(file, "rt", encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    r = json.loads(line)
                    unique.setdefault(r["id"], r)
    rows = list(unique.values())[-n_days * papers :]
    if len(rows) < n_days * papers:
        raise SystemExit(f"the archive has only {len(unique)} unique papers")
    return [rows[k * papers : (k + 1) * papers] for k in range(n_days)]


def hf_items(day: date, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Daily Papers API items for `rows`: the recorded item with one real paper's fields."""
    template = json.loads(TEMPLATE_ITEM.read_text(encoding="utf-8"))[0]
    stamp = f"{day.isoformat()}T00:00:00.000Z"
    items = []
    for r in rows:
        item = copy.deepcopy(template)
        paper = item["paper"]
        paper["id"] = r["id"]
        paper["title"] = item["title"] = " ".join(r["title"].split())
        paper["summary"] = item["summary"] = " ".join((r.get("summary") or "").split())
        paper["authors"] = [
            {"_id": f"a{i}", "name": n, "hidden": False} for i, n in enumerate(r["authors"])
        ]
        paper["publishedAt"] = item["publishedAt"] = stamp
        paper["submittedOnDailyAt"] = stamp
        paper["upvotes"] = 0
        item["thumbnail"] = (
            f"https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{r['id']}.png"
        )
        items.append(item)
    return items


@contextmanager
def hf_server(days: dict[date, list[dict[str, Any]]]) -> Iterator[str]:
    pages = {d: hf_items(d, rows) for d, rows in days.items()}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            q = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path != "/api/daily_papers":
                self.send_error(404)
                return
            items = pages.get(date.fromisoformat(q["date"]), []) if "date" in q else []
            limit, page = int(q.get("limit", 100)), int(q.get("p", 0))
            body = json.dumps(items[page * limit : (page + 1) * limit]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# ------------------------------------------------------------------------------ the mail server
class Counting:
    """aiosmtpd handler: (Message-ID, recipients) of every message accepted, with its time."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: list[tuple[float, str, tuple[str, ...]]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = message_from_bytes(envelope.original_content or envelope.content)
        mid = str(msg.get("Message-ID", ""))
        with self.lock:
            self.received.append((time.monotonic(), mid, tuple(envelope.rcpt_tos)))
        return "250 OK"

    def count(self) -> int:
        with self.lock:
            return len(self.received)


@contextmanager
def smtp_server(port: int) -> Iterator[Counting]:
    handler = Counting()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler
    finally:
        controller.stop()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------------------ the bot
def write_config(folder: Path, state_url: str, hf_url: str, smtp_port: int, extra: str) -> Path:
    (folder / "profiles").mkdir(parents=True, exist_ok=True)
    config = folder / "bot.yaml"
    config.write_text(
        f"""\
timezone: UTC
state: {state_url}
state_password_env: BENCH_PG_PASSWORD
profiles: profiles/
sources:
  - kind: hf_daily
    schedule: "0 9 * * *"
    base_url: {hf_url}
    page_size: 100
    max_pages: 50
    lookback_days: 0
email:
  host: 127.0.0.1
  port: {smtp_port}
  security: none
  from: digest@bench.example
  timeout: 10
http:
  timeout: 30
  retries: 1
  backoff: 0.05
  allow_private: true
{extra}""",
        encoding="utf-8",
    )
    return config


def write_profiles(folder: Path, n: int) -> list[str]:
    topics = list(TOPICS.items())
    ids = []
    for i in range(n):
        cat, words = topics[i % len(topics)]
        keywords = [w.strip() for w in words.split(",")][: 3 + i % 3]
        pid = f"p{i:05d}"
        min_score = 0.99 + 0.001 * ((i // len(topics)) % 8)
        (folder / "profiles" / f"{pid}.yaml").write_text(
            f"name: {cat} reader {i}\n"
            f"description: New research in {words}.\n"
            f"keywords: {json.dumps(keywords)}\n"
            f"min_score: {min_score:.3f}\n"
            "max_per_digest: 5\n"
            f"notify:\n  email: reader{i}@lab.example\n",
            encoding="utf-8",
        )
        ids.append(pid)
    return ids


def env() -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK", "DIGESTBOT"))}
    e["BENCH_PG_PASSWORD"] = PASSWORD
    return e


PROFILE_TO: list[str] = []  # --cprofile: the first delivery worker runs under cProfile


def bot(config: Path, *args: str) -> subprocess.Popen[bytes]:
    prefix = ["-m", "cProfile", "-o", PROFILE_TO.pop()] if PROFILE_TO and args[0] == "once" else []
    return subprocess.Popen(
        [sys.executable, *prefix, "-m", "bot", *args, "--config", str(config)],
        cwd=ROOT,
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def wait(proc: subprocess.Popen[bytes]) -> tuple[int, float, str]:
    """Exit status, peak RSS (MiB) and output of a child (wait4 gives that child's rusage)."""
    out = proc.stdout.read() if proc.stdout else b""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_maxrss / 1024, out.decode(errors="replace")


def running(proc: subprocess.Popen[bytes]) -> bool:
    """Whether `proc` has not exited, without reaping it (wait4 reads its rusage later)."""
    info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    return info is None


def run_bot(config: Path, *args: str) -> tuple[int, float, float, str]:
    t0 = time.perf_counter()
    code, rss, out = wait(bot(config, *args))
    return code, time.perf_counter() - t0, rss, out


def sql(pg: PgServer, database: str, statement: str) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(pg.url(database), password=PASSWORD, autocommit=True) as conn:
        cur = conn.execute(statement)
        return list(cur.fetchall()) if cur.description else []


def expected_messages(pg: PgServer, database: str) -> int:
    rows = sql(
        pg,
        database,
        "SELECT count(DISTINCT (destination, digest_day)) FROM deliveries "
        "WHERE status IN ('pending', 'failed')",
    )
    return int(rows[0][0])


# ------------------------------------------------------------------------------ the phases
def delivery_run(
    pg: PgServer,
    folder: Path,
    hf_url: str,
    template: str,
    name: str,
    workers: int,
    day: date,
    extra: str,
    kill_at: float | None = None,
    lease: float = 0,
) -> dict[str, Any]:
    sql(pg, "postgres", f"CREATE DATABASE {name} TEMPLATE {template}")
    port = free_port()
    config = write_config(folder, pg.url(name), hf_url, port, extra)
    expected = expected_messages(pg, name)
    result: dict[str, Any] = {"workers": workers, "expected": expected}
    with smtp_server(port) as mail:
        t0 = time.perf_counter()
        procs = [bot(config, "once", "--date", day.isoformat()) for _ in range(workers)]
        killed = None
        if kill_at is not None:
            while mail.count() < kill_at * expected and any(running(p) for p in procs):
                time.sleep(0.01)
            killed = random.choice([p for p in procs if running(p)] or procs)
            os.kill(killed.pid, signal.SIGKILL)
            result["killed_after"] = mail.count()
        outs = [wait(p) for p in procs]
        wall = time.perf_counter() - t0
        result["codes"] = [c for c, _, _ in outs]
        result["rss_mib"] = [round(r) for _, r, _ in outs]
        result["wall_s"] = round(wall, 2)
        result["received_before_recovery"] = mail.count()
        if kill_at is not None:
            time.sleep(lease + 1)  # the dead worker's lease runs out; then the next run
            code, t, _rss, out = run_bot(config, "once", "--date", day.isoformat())
            result["recovery_run"] = {"code": code, "wall_s": round(t, 2)}
            if code != 0:
                result["recovery_output"] = out[-2000:]
        received = list(mail.received)
    ids = Counter(mid for _, mid, _ in received)
    times = [t for t, _, _ in received]
    result["received"] = len(received)
    result["distinct"] = len(ids)
    result["duplicated"] = sum(c - 1 for c in ids.values())
    result["lost"] = max(0, expected - len(ids))
    if len(times) > 1 and kill_at is None:
        # Over the whole run (processes started to all exited), and over the sending itself
        # (first to last message received: without start-up, fetch and claim of the run).
        result["messages_per_s"] = round(len(times) / wall, 1)
        span = max(times) - min(times)
        result["sending_s"] = round(span, 2)
        result["sending_messages_per_s"] = round((len(times) - 1) / span, 1) if span else None
    result["failed_outputs"] = [
        o[-1500:]
        for (c, _, o), p in zip(outs, procs, strict=True)
        if c not in (0, -9) and p is not killed
    ]
    sql(pg, "postgres", f"DROP DATABASE {name}")
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--profiles", type=int, default=10_000)
    ap.add_argument("--papers", type=int, default=1000)
    ap.add_argument("--corpus-days", type=int, default=6)
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--kills", type=int, default=3)
    ap.add_argument("--lease", type=float, default=20.0, help="seconds, the delivery lease")
    ap.add_argument("--extra-config", default="", help="more bot.yaml lines (e.g. the lease key)")
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--cprofile", help="write the first delivery worker's cProfile here")
    ap.add_argument("--cprofile-ingest", help="write the ingest run's cProfile here")
    ap.add_argument("--stop-after-ingest", action="store_true")
    args = ap.parse_args()
    random.seed(args.seed)
    extra = args.extra_config.replace("\\n", "\n")
    if extra and not extra.endswith("\n"):
        extra += "\n"

    days = real_days(args.corpus_days + 1, args.papers)
    # The archive's days are replayed as consecutive days ending on the measured day.
    measured = date(2026, 3, 2)
    served = {measured - timedelta(days=len(days) - 1 - k): rows for k, rows in enumerate(days)}
    report: dict[str, Any] = {"profiles": args.profiles, "papers": args.papers}
    pg = PgServer(password=PASSWORD)
    pg.start()
    try:
        with (
            tempfile.TemporaryDirectory(prefix="digestbot-scale-") as tmp,
            hf_server(served) as hf_url,
        ):
            folder = Path(tmp)
            sql(pg, "postgres", "CREATE DATABASE tmpl")
            down = free_port()  # nothing listens: the ingest run's deliveries stay queued
            config = write_config(folder, pg.url("tmpl"), hf_url, down, extra)
            # 3 the corpus: the earlier days, no profiles yet
            first = measured - timedelta(days=1)
            config.write_text(
                config.read_text().replace(
                    "lookback_days: 0", f"lookback_days: {args.corpus_days - 1}"
                ),
                encoding="utf-8",
            )
            code, t, rss, out = run_bot(config, "once", "--date", first.isoformat())
            assert code == 0, out
            report["corpus_run"] = {"papers": args.papers * args.corpus_days, "wall_s": round(t, 1)}
            config = write_config(folder, pg.url("tmpl"), hf_url, down, extra)
            ids = write_profiles(folder, args.profiles)

            rows = ",".join(
                f"('{pid}', '{first.isoformat()}', '{first.isoformat()}T09:00:00+00:00')"
                for pid in ids
            )
            sql(
                pg,
                "tmpl",
                f"INSERT INTO served_profiles (profile_id, first_day, first_at) VALUES {rows}",
            )
            # 4 ingest
            if args.cprofile_ingest:
                PROFILE_TO.append(args.cprofile_ingest)
            code, t, rss, out = run_bot(config, "once", "--date", measured.isoformat())
            report["ingest"] = {"exit": code, "wall_s": round(t, 1), "peak_rss_mib": round(rss)}
            code, _t2, _, out2 = run_bot(config, "retry")
            assert code == 0, out2
            report["queued_messages"] = expected_messages(pg, "tmpl")
            report["queued_rows"] = sql(pg, "tmpl", "SELECT count(*) FROM deliveries")[0][0]
            print(json.dumps(report), flush=True)
            if args.stop_after_ingest:
                return
            # 5 delivery
            runs = []
            if args.cprofile:
                PROFILE_TO.append(args.cprofile)
            for n in [int(x) for x in args.workers.split(",")]:
                r = delivery_run(pg, folder, hf_url, "tmpl", f"deliver{n}", n, measured, extra)
                print(json.dumps(r), flush=True)
                runs.append(r)
            report["delivery"] = runs
            # 6 SIGKILL
            kills = []
            for k in range(args.kills):
                r = delivery_run(
                    pg,
                    folder,
                    hf_url,
                    "tmpl",
                    f"kill{k}",
                    4,
                    measured,
                    extra,
                    kill_at=0.25,
                    lease=args.lease,
                )
                print(json.dumps(r), flush=True)
                kills.append(r)
            report["kills"] = kills
    finally:
        pg.stop()
        pg.remove()
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
