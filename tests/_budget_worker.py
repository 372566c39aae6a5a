"""A separate process that spends budget against a service: ``python -m tests._budget_worker``.

Arguments: URL API_KEY STORE ATTEMPTS, where STORE is ``sqlite:PATH``, ``redis:URL`` or
``default``. Each attempt opens a new Session (so nothing is cached) and fetches the service
document: one request. Prints one JSON line: {"granted": n, "exhausted": m}.
"""

from __future__ import annotations

import asyncio
import json
import sys

import brightmetrics_async as bm


def _budget(store: str) -> bm.Budget | None:
    if store.startswith("sqlite:"):
        return bm.SQLiteBudget(store.removeprefix("sqlite:"))
    if store.startswith("redis:"):
        return bm.RedisBudget(store.removeprefix("redis:"))
    return None


async def main(url: str, key: str, store: str, attempts: int) -> None:
    granted = exhausted = 0
    budget = _budget(store)
    try:
        for _ in range(attempts):
            async with bm.Session(
                bm.ApiKey(key),
                base_url=url,
                budget=budget,
                account="acme",
                max_wait=0,
                cache=None,  # nothing remembered: every attempt fetches the document
            ) as s:
                try:
                    await s.reports()
                except bm.BudgetExhausted:
                    exhausted += 1
                else:
                    granted += 1
    finally:
        if budget is not None:
            await budget.aclose()
    print(json.dumps({"granted": granted, "exhausted": exhausted}))


if __name__ == "__main__":
    url, key, store, attempts = sys.argv[1:5]
    asyncio.run(main(url, key, store, int(attempts)))
