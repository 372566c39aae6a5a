"""Peak RSS of the client per bomb, each case in a fresh client process (the figures of the
README's Reliability section). Usage: ``python -m tests.hostile._rss_cases``."""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile

from .._servers import peer
from ._rss_client import ALL
from .test_bodies import RSS_CLIENT, bomb_server


async def main() -> None:
    async with peer(bomb_server()) as service:
        with tempfile.TemporaryDirectory() as tmp:
            for names in [[name] for name in ALL] + [[]]:
                proc = await asyncio.create_subprocess_exec(
                    sys.executable,
                    str(RSS_CLIENT),
                    service.url,
                    tmp,
                    *names,
                    stdout=asyncio.subprocess.PIPE,
                )
                out, _ = await proc.communicate()
                report = json.loads(out)
                label = names[0] if names else "all, one process"
                outcome = ", ".join(sorted(set(report["outcomes"].values())))
                print(f"{label:24} {outcome:20} {report['peak_rss_mb']:6.1f} MB", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
