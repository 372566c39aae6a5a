"""``python -m brightmetrics_async``: the ``brightmetrics`` command line."""

from __future__ import annotations

from ._cli import main

if __name__ == "__main__":
    main()
