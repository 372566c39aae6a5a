"""``emulator``: serve the local emulator, with the knobs a curl or Power BI user needs."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from brightmetrics_async.testing._faults import FaultKind

from ._settings import output_options

__all__ = ["emulator"]

_FAULT_KINDS = ", ".join(kind.value for kind in FaultKind)


def _duration(value: str) -> float | tuple[float, float]:
    low, sep, high = value.partition("-")
    try:
        result = (float(low), float(high)) if sep else float(low)
    except ValueError:
        raise click.BadParameter("seconds, or LOW-HIGH", param_hint="--job-seconds") from None
    numbers = result if isinstance(result, tuple) else (result,)
    if any(n < 0 for n in numbers) or (isinstance(result, tuple) and result[0] > result[1]):
        raise click.BadParameter("seconds >= 0, LOW <= HIGH", param_hint="--job-seconds")
    return result


def _faults(values: tuple[str, ...]) -> list[tuple[FaultKind, float]]:
    out = []
    for value in values:
        kind_text, sep, rate_text = value.partition(":")
        try:
            kind = FaultKind(kind_text.strip().lower().replace("-", "_"))
        except ValueError:
            raise click.BadParameter(
                f"unknown fault {kind_text!r}; one of: {_FAULT_KINDS}", param_hint="--fault"
            ) from None
        try:
            rate = float(rate_text) if sep else 1.0
        except ValueError:
            rate = -1.0
        if not 0 < rate <= 1:
            raise click.BadParameter(
                f"the rate in {value!r} is a share of requests: 0 < RATE <= 1",
                param_hint="--fault",
            )
        out.append((kind, rate))
    return out


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option(
    "--port",
    default=8080,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port (0: any free port).",
)
@click.option("--seed", default=0, show_default=True, help="Seed of the generated data.")
@click.option(
    "--job-seconds",
    default="5",
    show_default=True,
    metavar="S|LOW-HIGH",
    help="How long an asynchronous export (Prefer: respond-async) takes, in emulator time.",
)
@click.option(
    "--retry-after",
    default=5.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Retry-After seconds on a 202 (job still running).",
)
@click.option(
    "--quota",
    default=150,
    show_default=True,
    type=click.IntRange(min=0),
    help="Requests per company per 24 hours of emulator time (0: no limit).",
)
@click.option(
    "--clock-speed",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="How much faster than real time the emulator's clock runs (3600: an hour a second).",
)
@click.option(
    "--page-days",
    default=7.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Days per time slice when paging detail reports (0: one page).",
)
@click.option(
    "--accounts",
    "accounts_file",
    type=click.Path(exists=True, dir_okay=False),
    metavar="FILE",
    help="TOML file of companies, users and API keys (replaces the demo accounts).",
)
@click.option(
    "--strict",
    is_flag=True,
    help="Refuse $top, $skip, $select, $count and $orderby (the document does not list them).",
)
@click.option(
    "--fault",
    "fault_specs",
    multiple=True,
    metavar="KIND[:RATE]",
    help=f"Misbehave on a share of requests (RATE, default 1: all); repeatable."
    f" KIND: {_FAULT_KINDS}.",
)
@output_options
def emulator(
    host: str,
    port: int,
    seed: int,
    job_seconds: str,
    retry_after: float,
    quota: int,
    clock_speed: float,
    page_days: float,
    accounts_file: str | None,
    strict: bool,
    fault_specs: tuple[str, ...],
    **kwargs: Any,
) -> None:
    """Serve the local emulator of the OData service until Ctrl-C.

    For curl, Power BI-style OData clients and this CLI. Prints the URL, the credentials
    (emulator-only: the demo ones are the vendor's documented examples), how to reset the
    quota, and the knobs in force.
    """
    from brightmetrics_async import testing as t
    from brightmetrics_async.testing._accounts_file import demo_registry, load_accounts
    from brightmetrics_async.testing._handlers import RESET_PATH

    duration = _duration(job_seconds)
    faults = _faults(fault_specs)
    try:
        registry = load_accounts(accounts_file) if accounts_file else demo_registry()
    except (OSError, ValueError) as exc:
        raise click.BadParameter(str(exc), param_hint="--accounts") from None
    config = t.EmulatorConfig(
        seed=seed,
        job_seconds=duration,
        job_retry_after=retry_after,
        quota_limit=quota or None,
        clock_speed=clock_speed,
        slice_seconds=page_days * 86400 if page_days else None,
        strict_query_options=strict,
    )
    em = t.Emulator(config, accounts=registry.accounts)
    for kind, rate in faults:
        em.faults.add(t.Fault(kind, times=None), rate=rate)
    knobs = {
        "seed": seed,
        "job_seconds": list(duration) if isinstance(duration, tuple) else duration,
        "retry_after": retry_after,
        "quota": quota or None,
        "clock_speed": clock_speed,
        "page_days": page_days or None,
        "strict": strict,
        "faults": [{"kind": kind.value, "rate": rate} for kind, rate in faults],
        "accounts": accounts_file or "demo",
    }
    first = registry.credentials[0]
    key = next((c.api_key for c in registry.credentials if c.api_key), None)

    def ready(server: t.EmulatorServer) -> None:
        reset_url = server.origin + RESET_PATH
        if kwargs.get("json_"):
            info = {
                "url": server.url,
                "api_key": key,
                "user": first.email,
                "password": first.password,
                "reset_url": reset_url,
                "credentials": [
                    {
                        "account": c.account,
                        "email": c.email,
                        "password": c.password,
                        "api_key": c.api_key,
                    }
                    for c in registry.credentials
                ],
                "knobs": knobs,
            }
            print(json.dumps(info), flush=True)
            return
        _banner(server.url, reset_url, registry.credentials, key, knobs)

    try:
        t.run_forever(host, port, emulator=em, on_ready=ready)
    except KeyboardInterrupt:
        print("emulator stopped", file=sys.stderr)
    except OSError as exc:
        print(
            f"brightmetrics: network error: cannot serve on {host}:{port}: {exc.strerror}",
            file=sys.stderr,
        )
        sys.exit(8)


def _banner(
    url: str, reset_url: str, credentials: Any, key: str | None, knobs: dict[str, Any]
) -> None:
    print(f"Brightmetrics emulator serving at {url}")
    print("Credentials (emulator only):")
    for c in credentials:
        api = f"  API key: {c.api_key}" if c.api_key else ""
        print(f"  {c.account}: {c.email}  password: {c.password}{api}")
    print("  Power BI: Basic auth, user 'apikey', password <API key>")
    jobs = knobs["job_seconds"]
    job = f"{jobs[0]:g}-{jobs[1]:g} s" if isinstance(jobs, list) else f"{jobs:g} s"
    quota = f"{knobs['quota']} per 24 h" if knobs["quota"] else "no limit"
    pages = f"{knobs['page_days']:g} days" if knobs["page_days"] else "one page"
    faults = ", ".join(f"{f['kind']}:{f['rate']:g}" for f in knobs["faults"]) or "none"
    print("Knobs in force:")
    print(f"  --job-seconds {job}   --retry-after {knobs['retry_after']:g} s   --quota {quota}")
    print(
        f"  --clock-speed {knobs['clock_speed']:g}x   --page-days {pages}   --seed {knobs['seed']}"
    )
    print(f"  --strict {'on' if knobs['strict'] else 'off'}   --fault {faults}")
    print(f"  --accounts {knobs['accounts']}")
    auth = f"-H 'Authorization: Bearer {key}'" if key else "-u EMAIL:*passPASSWORD"
    print(f"Reset the quota (the My Account button):  curl -X POST {auth} {reset_url}")
    print("  then forget the local record of it:  brightmetrics budget reset --yes")
    print(f"Try:  curl {auth} {url}")
    if key:
        print(f"      BRIGHTMETRICS_API_KEY={key} brightmetrics reports --url {url}")
    print("Ctrl-C to stop.", flush=True)
