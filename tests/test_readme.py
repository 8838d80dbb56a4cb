"""The README stays true: every benchmark command it quotes is one `make bench` runs."""

from __future__ import annotations

import re
from pathlib import Path

from benchmarks.run_all import BENCHMARKS

ROOT = Path(__file__).resolve().parents[1]


def quoted_benchmark_commands(text: str) -> set[str]:
    """``python benchmarks/X.py ARGS`` inside backticks, line breaks folded into spaces, and
    ``--publish`` left out (it says where the files go; ``make bench`` runs the same command,
    and ``benchmarks/run_all.py --publish`` adds the flag)."""
    spans = re.findall(r"`([^`]*)`", text, flags=re.S)
    commands = set()
    for span in spans:
        span = " ".join(span.split())
        for part in span.split("&&"):
            part = " ".join(a for a in part.split() if a != "--publish")
            if part.startswith("python benchmarks/bench_"):
                commands.add(part.removeprefix("python benchmarks/"))
    return commands


def test_make_bench_runs_every_benchmark_the_readme_quotes() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quoted = quoted_benchmark_commands(readme)
    assert len(quoted) >= 6, quoted
    run = {" ".join(command) for commands in BENCHMARKS.values() for command in commands}
    assert quoted <= run, f"quoted in the README but not run by make bench: {quoted - run}"


def test_result_files_quote_commands_make_bench_runs() -> None:
    run = {" ".join(command) for commands in BENCHMARKS.values() for command in commands}
    for md in sorted((ROOT / "benchmarks" / "results").glob("control*.md")):
        quoted = quoted_benchmark_commands(md.read_text(encoding="utf-8"))
        assert quoted <= run, f"{md.name}: {quoted - run}"


def test_the_parser_folds_line_breaks_and_splits_chains() -> None:
    text = "see (`python benchmarks/bench_a.py --x\n--y 2 && python benchmarks/bench_b.py`)"
    assert quoted_benchmark_commands(text) == {"bench_a.py --x --y 2", "bench_b.py"}
    assert quoted_benchmark_commands("`python benchmarks/bench_a.py --x --publish`") == \
        {"bench_a.py --x"}


def test_the_readme_quotes_every_benchmark_command_with_publish() -> None:
    """Each command the Benchmarks section quotes produced a committed result file, so the
    reader copies it with --publish (drop it to leave benchmarks/results/ alone)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("\n## Benchmarks\n"):]
    section = section[:section.index("\n## ", 1)]
    spans = [" ".join(s.split()) for s in re.findall(r"`([^`]*)`", section, flags=re.S)]
    quoted = [s for s in spans if s.startswith("python benchmarks/bench_")]
    assert len(quoted) >= 7, quoted
    assert all(s.endswith(" --publish") for s in quoted), quoted
