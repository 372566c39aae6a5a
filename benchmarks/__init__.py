"""The benchmarks of brightmetrics-async: ``python -m benchmarks`` (or ``nox -s bench``).

One module per benchmark (:mod:`.bulk`, :mod:`.memory`, :mod:`.jobs`, :mod:`.economy`,
:mod:`.limiter`), each with a ``run(quick=...)`` returning a :class:`._harness.Section`.
Clients are measured in fresh processes (:mod:`._worker`) against a server in another process
(:mod:`._server`, the emulator's wire format pre-rendered), and every figure is a ratio against
a baseline measured in the same run, or an absolute bound stated next to it. A full run
rewrites ``benchmarks/RESULTS.md``.
"""
