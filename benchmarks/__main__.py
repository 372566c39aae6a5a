"""``python -m benchmarks [NAME ...] [--quick] [--write | --no-write]``.

Runs the named benchmarks (default: all, in order), prints the table of figures next to their
targets, and - for a full run of every benchmark, or with ``--write`` - rewrites
``benchmarks/RESULTS.md``. ``--quick`` uses small sizes (a smoke test; its figures are not
written unless ``--write`` is given).
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

from . import bulk, economy, jobs, limiter, memory, replicas, sync
from ._harness import Section, compile_bytecode, machine, table

BENCHMARKS = {
    "bulk": bulk.run,
    "memory": memory.run,
    "jobs": jobs.run,
    "economy": economy.run,
    "limiter": limiter.run,
    "sync": sync.run,
    "replicas": replicas.run,
}
RESULTS = Path(__file__).with_name("RESULTS.md")


def render(sections: list[Section], *, info: dict[str, str], command: str, seconds: float) -> str:
    """The RESULTS.md text."""
    out = [
        "# Benchmark results",
        "",
        f"Written by `{command}` on {info['date']}; the run took {seconds / 60:.1f} min.",
        "Every figure is measured in the same run as its baseline, against a server in another",
        "process; see each module's docstring for the method. Re-run with `nox -s bench`.",
        "",
        "## Machine",
        "",
        f"- CPU: {info['cpu']}, {info['cores']} cores",
        f"- Python: {info['python']} on {info['platform']}",
        f"- aiohttp {info['aiohttp']}, orjson {info['orjson']}",
        "",
        "## Figures",
        "",
        *table(sections),
        "",
    ]
    for section in sections:
        out += [f"## {section.title}", "", f"Took {section.seconds:.0f} s.", ""]
        out += [f"- {note}" for note in section.notes]
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Run, print, write; the exit status is 1 if a benchmark failed to run."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help=f"default: all of {', '.join(BENCHMARKS)}"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    write = parser.add_mutually_exclusive_group()
    write.add_argument("--write", action="store_true", default=None, help="rewrite RESULTS.md")
    write.add_argument("--no-write", dest="write", action="store_false")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {list(BENCHMARKS)}")
    names = [n for n in BENCHMARKS if n in args.names] if args.names else list(BENCHMARKS)
    info = machine()
    print(f"{info['cpu']}, {info['cores']} cores, {info['python']}, {info['platform']}")
    started = time.perf_counter()
    compile_bytecode()
    sections: list[Section] = []
    failed = False
    for name in names:
        print(f"== {name} ...", flush=True)
        t = time.perf_counter()
        try:
            section = BENCHMARKS[name](quick=args.quick)
        except Exception:
            traceback.print_exc()
            failed = True
            continue
        section.seconds = time.perf_counter() - t
        sections.append(section)
        for fig in section.figures:
            print(f"   {fig.name}: {fig.value}  [{fig.target}] {fig.status}", flush=True)
    seconds = time.perf_counter() - started
    print()
    print("\n".join(table(sections)))
    print(f"\n{seconds / 60:.1f} min")
    full = not args.quick and names == list(BENCHMARKS) and not failed
    if args.write or (args.write is None and full):
        command = "python -m benchmarks " + " ".join(sys.argv[1:] if argv is None else argv)
        RESULTS.write_text(render(sections, info=info, command=command.strip(), seconds=seconds))
        print(f"wrote {RESULTS}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
