"""A local emulator of the Brightmetrics OData service, for tests and offline development.

Written from the vendor's API document only (never from the client), so the two check each
other. Run it in tests with :func:`serve` or the pytest plugin
(``pytest_plugins = ["brightmetrics_async.testing.pytest_plugin"]``), or from a shell with
``brightmetrics emulator --port N``.
"""

from ._accounts import DEMO_ACCOUNT as DEMO_ACCOUNT
from ._accounts import DEMO_ACCOUNT_NAME as DEMO_ACCOUNT_NAME
from ._accounts import DEMO_API_KEY as DEMO_API_KEY
from ._accounts import DEMO_PASSWORD as DEMO_PASSWORD
from ._accounts import DEMO_PASSWORD_HASH as DEMO_PASSWORD_HASH
from ._accounts import DEMO_USER as DEMO_USER
from ._accounts import OTHER_ACCOUNT as OTHER_ACCOUNT
from ._accounts import OTHER_API_KEY as OTHER_API_KEY
from ._accounts import OTHER_PASSWORD as OTHER_PASSWORD
from ._accounts import OTHER_USER as OTHER_USER
from ._accounts import SECOND_API_KEY as SECOND_API_KEY
from ._accounts import SECOND_PASSWORD as SECOND_PASSWORD
from ._accounts import SECOND_USER as SECOND_USER
from ._accounts import Account as Account
from ._accounts import Accounts as Accounts
from ._accounts import Principal as Principal
from ._accounts import hash_password as hash_password
from ._app import Emulator as Emulator
from ._clock import VirtualClock as VirtualClock
from ._config import EmulatorConfig as EmulatorConfig
from ._faults import Fault as Fault
from ._faults import FaultKind as FaultKind
from ._faults import Faults as Faults
from ._log import RequestRecord as RequestRecord
from ._quota import QuotaStatus as QuotaStatus
from ._reports import Report as Report
from ._server import EmulatorServer as EmulatorServer
from ._server import run_forever as run_forever
from ._server import serve as serve

__all__ = [
    "DEMO_ACCOUNT",
    "DEMO_ACCOUNT_NAME",
    "DEMO_API_KEY",
    "DEMO_PASSWORD",
    "DEMO_PASSWORD_HASH",
    "DEMO_USER",
    "OTHER_ACCOUNT",
    "OTHER_API_KEY",
    "OTHER_PASSWORD",
    "OTHER_USER",
    "SECOND_API_KEY",
    "SECOND_PASSWORD",
    "SECOND_USER",
    "Account",
    "Accounts",
    "Emulator",
    "EmulatorConfig",
    "EmulatorServer",
    "Fault",
    "FaultKind",
    "Faults",
    "Principal",
    "QuotaStatus",
    "Report",
    "RequestRecord",
    "VirtualClock",
    "hash_password",
    "run_forever",
    "serve",
]
