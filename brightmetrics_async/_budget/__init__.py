"""The shared request budget: at most ``limit`` requests in any ``period`` per account.

Stores: :class:`MemoryBudget` (one process), :class:`SQLiteBudget` (the processes of one
machine, survives restarts) and :class:`RedisBudget` (several machines). All implement
:class:`Budget` and pass the same conformance tests.
"""

from ._base import DEFAULT as DEFAULT
from ._base import Budget as Budget
from ._base import Default as Default
from ._memory import MemoryBudget as MemoryBudget
from ._redis import RedisBudget as RedisBudget
from ._sqlite import SQLiteBudget as SQLiteBudget
from ._sqlite import default_budget_path as default_budget_path

__all__ = [
    "DEFAULT",
    "Budget",
    "Default",
    "MemoryBudget",
    "RedisBudget",
    "SQLiteBudget",
    "default_budget_path",
]
