"""The ``brightmetrics`` command group."""

from __future__ import annotations

import click

from ._cmd_demo import demo
from ._cmd_emulator import emulator
from ._cmd_info import budget, filters, job, reports
from ._cmd_pull import export, pull
from ._cmd_sync import sync
from ._exit import epilog

__all__ = ["cli", "main"]

_HELP = """Export Brightmetrics reports through the OData API, within the request budget.

Every request spends one of the company account's 150 requests per 24 hours; the budget
is tracked on this machine (see 'brightmetrics budget'). Credentials come from options, the
BRIGHTMETRICS_* environment variables or the config file, and are never printed.
"""


@click.group(
    help=_HELP,
    epilog=epilog(),
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(package_name="brightmetrics-async", prog_name="brightmetrics")
def cli() -> None:
    """The command group (see _HELP)."""


for command in (reports, filters, export, pull, sync, job, budget, emulator, demo):
    command.epilog = command.epilog or epilog()
    cli.add_command(command)


def main() -> None:
    """The console script's entry point."""
    cli(prog_name="brightmetrics")
