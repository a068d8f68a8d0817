"""Loading many profile files in a fresh process, measured by hand (not in CI; issue 17).

    .venv/bin/python bench/profile_load.py [--files 10000] [--repeat 3] [--cprofile OUT.prof]
                                           [--against DIR]

Every CLI command that reads profiles (`once`, `preview`, `status`, `check`, the web page) is a
fresh process and parses every profile file: for an institution's 10,000 files that load is
most of a worker's start-up. This writes `--files` profile files into a temporary folder the way
bench/scale.py writes its 10,000 (`scale.write_profiles`: 20 arXiv topics x keyword subsets x
thresholds, one email recipient each), varies every third one with what real profiles also
carry (quoted example-paper ids, authors, categories, a block-scalar description, a Slack
channel, comments), then times `bot.config.load_profiles` on the folder in `--repeat` fresh
processes (`python -c`, no cache: the daemon's `ProfileCache` lives in one process only) and
prints the median ms per file; `--cprofile` writes the first process's profile of the load.
`--against DIR` also times another checkout's bot/ (e.g. `git archive main bot | tar -x -C DIR`)
on the same files, alternating with this one, so a before/after on a busy machine compares
like with like.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from scale import write_profiles  # noqa: E402

# Appended to every third file: what hand-written profiles also hold.
EXTRA = """\
# example papers and people, added by hand
papers:
  - "2401.01234"
  - '2310.06825'
  - arXiv:1706.03762v7
authors: [Ashish Vaswani, "Noam Shazeer"]
categories:
  - cs.LG
  - cs.CL
category_boost: {{cs.CL: 0.05}}
not_like: ["2402.00001"]
upvote_weight: 0.2
description: |
  reader {i} follows this topic
  across several lines
"""

# The load, timed inside a fresh interpreter (imports excluded: they are the same either way).
PROBE = """
import cProfile, json, sys, time
from pathlib import Path
from bot.config import load_profiles
folder, out = Path(sys.argv[1]), sys.argv[2]
prof = cProfile.Profile() if out else None
t0 = time.perf_counter()
if prof: prof.enable()
profiles, errors = load_profiles(folder)
if prof: prof.disable(); prof.dump_stats(out)
print(json.dumps({"seconds": time.perf_counter() - t0, "profiles": len(profiles),
                  "errors": [str(e) for e in errors[:3]]}))
"""


def write_varied(folder: Path, n: int) -> None:
    (folder / "profiles").mkdir(parents=True, exist_ok=True)
    write_profiles(folder, n)
    for i, file in enumerate(sorted((folder / "profiles").glob("*.yaml"))):
        if i % 3 == 0:
            lines = file.read_text(encoding="utf-8").splitlines(keepends=True)
            del lines[1]  # the one-line description: EXTRA has a block-scalar one
            text = "".join(lines).replace("\n  email:", "\n  slack: '#lab'\n  email:")
            file.write_text(text + EXTRA.format(i=i), encoding="utf-8")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cprofile", default="", help="write the first run's cProfile here")
    ap.add_argument("--against", type=Path, help="a folder holding another checkout's bot/")
    args = ap.parse_args()
    roots = {"this checkout": ROOT, **({"--against": args.against} if args.against else {})}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_varied(folder, args.files)
        runs: dict[str, list[float]] = {name: [] for name in roots}
        for r in range(args.repeat):
            for name, root in roots.items():
                cprofile = args.cprofile if r == 0 and root == ROOT else ""
                out = subprocess.run(
                    [sys.executable, "-c", PROBE, str(folder / "profiles"), cprofile],
                    cwd=root,  # `python -c` imports bot/ from its working directory first
                    check=True,
                    capture_output=True,
                    text=True,
                )
                result = json.loads(out.stdout)
                if result["profiles"] != args.files or result["errors"]:
                    print(f"unexpected: {result}", file=sys.stderr)
                    return 1
                runs[name].append(result["seconds"])
                print(f"run {r + 1}, {name}: {result['seconds']:.2f} s", flush=True)
        for name, seconds in runs.items():
            median = statistics.median(seconds)
            print(
                f"{name}: load_profiles, {args.files} files, fresh process: median "
                f"{median:.2f} s, {1000 * median / args.files:.3f} ms per file"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
