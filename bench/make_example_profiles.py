"""Write bench/profiles/examples/<cat>.yaml ONCE: for each category of the keyword profiles, the
first 5 papers (in listing order) whose primary (first) category is that category, among the
papers first listed before daily_arxiv's scored window. Refuses to overwrite: the example
profiles are fixed inputs of the benchmark, not something to regenerate and tune.

    .venv/bin/python bench/make_example_profiles.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from daily_arxiv import PROFILES, WINDOW_DAYS, load_days, load_profiles

N_EXAMPLES = 5


def main() -> int:
    data = load_days()
    window_start = data.day_bounds[len(data.day_names) - WINDOW_DAYS][0]
    out_dir = PROFILES / "examples"
    out_dir.mkdir(parents=True, exist_ok=True)
    for kw in load_profiles("keywords"):
        path = out_dir / f"{kw.cat}.yaml"
        if path.exists():
            print(f"{path} exists: left as is")
            continue
        rows = [r for r in range(window_start) if data.cats[r][:1] == (kw.cat,)][:N_EXAMPLES]
        if len(rows) < N_EXAMPLES:
            raise SystemExit(f"{kw.cat}: only {len(rows)} primary papers before the window")
        day_of = {
            r: name
            for name, (a, b) in zip(data.day_names, data.day_bounds, strict=True)
            for r in range(a, b)
        }
        lines = [
            f"# The first {N_EXAMPLES} papers with primary category {kw.cat} listed before the",
            "# scored window (bench/make_example_profiles.py; written once, never tuned).",
            f"name: {kw.cat} (examples)",
            f"description: {kw.description}",
            "keywords: []",
            "papers:",
        ]
        for r in rows:
            title = " ".join(data.texts[r].split(". ", 1)[0].split())[:90]
            lines.append(f'  - "{data.ids[r]}"  # {day_of[r]}: {title}')
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
