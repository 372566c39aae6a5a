"""The ``brightmetrics`` command group, and its entry point."""

from __future__ import annotations

import json
import sys

import click

from ._cmd_demo import demo
from ._cmd_emulator import emulator
from ._cmd_info import budget, filters, reports
from ._cmd_job import job
from ._cmd_pull import export, pull
from ._cmd_sync import sync
from ._exit import classify, epilog
from ._run import make_console

__all__ = ["cli", "main"]

_HELP = """Export Brightmetrics reports through the OData API, within the request budget.

Every request spends one of the company account's 150 requests per 24 hours; the budget
is tracked on this machine (see 'brightmetrics budget'). Credentials come from options, the
BRIGHTMETRICS_* environment variables or the config file, in that order, and are never
printed; secrets are never taken as option values (use the environment, the config file,
--api-key-stdin / --password-stdin, or --api-key / --password alone to be asked).

Shell completion: eval "$(_BRIGHTMETRICS_COMPLETE=bash_source brightmetrics)" in ~/.bashrc
(zsh_source for ~/.zshrc, fish_source for fish).
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
    cli.add_command(command)


def main() -> None:
    """Run the command line; usage errors are one line (and a JSON object with --json)."""
    try:
        rv = cli.main(prog_name="brightmetrics", standalone_mode=False)
    except click.ClickException as error:
        error.show()
        row = classify(error)
        if "--json" in sys.argv[1:]:
            data = {"code": row.name, "message": error.format_message(), "exit_code": row.code}
            sys.stdout.write(json.dumps({"error": data}) + "\n")
        sys.exit(row.code)
    except click.Abort:
        make_console(stderr=True).print("brightmetrics: interrupted", markup=False)
        sys.exit(130)
    sys.exit(rv if isinstance(rv, int) else 0)
