"""brightmetrics-async: an asyncio client for the Brightmetrics OData reporting API.

::

    import brightmetrics_async as bm

    async with bm.Session(bm.ApiKey("...")) as s:
        for report in await s.reports():
            async for row in s.rows(report, filter=bm.where(Queue_Name="Sales")):
                ...

Every request spends one of the company account's 150 daily requests from a shared budget
(:class:`SQLiteBudget` by default); see the README for the tour.
"""

from ._atomic import AtomicFile as AtomicFile
from ._auth import ApiKey as ApiKey
from ._auth import BasicAuth as BasicAuth
from ._auth import auth_from_env as auth_from_env
from ._auth import hash_password as hash_password
from ._budget import Budget as Budget
from ._budget import MemoryBudget as MemoryBudget
from ._budget import RedisBudget as RedisBudget
from ._budget import SQLiteBudget as SQLiteBudget
from ._budget import default_budget_path as default_budget_path
from ._bulk import Pull as Pull
from ._clock import Clock as Clock
from ._clock import SystemClock as SystemClock
from ._dates import period as period
from ._dry_run import Known as Known
from ._errors import ApiError as ApiError
from ._errors import AuthenticationError as AuthenticationError
from ._errors import BrightmetricsError as BrightmetricsError
from ._errors import BudgetExhausted as BudgetExhausted
from ._errors import BudgetStoreError as BudgetStoreError
from ._errors import ConfigurationError as ConfigurationError
from ._errors import FilterError as FilterError
from ._errors import InvalidToken as InvalidToken
from ._errors import InvalidTokenLink as InvalidTokenLink
from ._errors import JobError as JobError
from ._errors import JobExpired as JobExpired
from ._errors import NotFound as NotFound
from ._errors import RateLimited as RateLimited
from ._errors import RequestTimeout as RequestTimeout
from ._errors import TransportError as TransportError
from ._errors import UnexpectedResponse as UnexpectedResponse
from ._errors import UnknownTimezone as UnknownTimezone
from ._errors import UnsafeLink as UnsafeLink
from ._estimate import Estimate as Estimate
from ._estimate import ItemCost as ItemCost
from ._estimate import Learned as Learned
from ._estimate import estimate_requests as estimate_requests
from ._filter_check import ORDERED_TYPES as ORDERED_TYPES
from ._filter_check import TEXT_TYPES as TEXT_TYPES
from ._filters import F as F
from ._filters import FilterExpr as FilterExpr
from ._filters import between as between
from ._filters import eq as eq
from ._filters import ge as ge
from ._filters import gt as gt
from ._filters import le as le
from ._filters import lt as lt
from ._filters import ne as ne
from ._filters import parse_filter as parse_filter
from ._filters import render_filter as render_filter
from ._filters import where as where
from ._formats import Format as Format
from ._formats import parse_format as parse_format
from ._http import Timeouts as Timeouts
from ._job_keys import JobKeys as JobKeys
from ._job_keys import JobRecord as JobRecord
from ._job_keys import SQLiteJobKeys as SQLiteJobKeys
from ._job_keys_redis import RedisJobKeys as RedisJobKeys
from ._jobs import Job as Job
from ._journal import Journal as Journal
from ._journal import JournalEntry as JournalEntry
from ._journal import default_journal_path as default_journal_path
from ._json_array import write_array as write_json_array
from ._knowledge import KnowledgeStore as KnowledgeStore
from ._knowledge import MemoryKnowledge as MemoryKnowledge
from ._knowledge import RedisKnowledge as RedisKnowledge
from ._knowledge import SQLiteKnowledge as SQLiteKnowledge
from ._knowledge import default_knowledge_path as default_knowledge_path
from ._limits import Limits as Limits
from ._models import BudgetSnapshot as BudgetSnapshot
from ._models import FilterSchema as FilterSchema
from ._models import Page as Page
from ._models import Report as Report
from ._names import odata_name as odata_name
from ._pager import PageIterator as PageIterator
from ._pager import RowIterator as RowIterator
from ._pager import row_typer as row_typer
from ._poll_policy import JobHistory as JobHistory
from ._poll_policy import PollPolicy as PollPolicy
from ._poll_policy import cost_table as cost_table
from ._polling import JobState as JobState
from ._pull_items import PullEvent as PullEvent
from ._pull_items import PullItem as PullItem
from ._pull_items import PullResult as PullResult
from ._request import Query as Query
from ._request import Request as Request
from ._results import MemoryResultCache as MemoryResultCache
from ._results import ResultCache as ResultCache
from ._retry import RetryPolicy as RetryPolicy
from ._session import Session as Session
from ._shared_cache import RedisResultCache as RedisResultCache
from ._timezones import windows_timezone as windows_timezone
from ._version import VERSION as _VERSION

__version__ = _VERSION

__all__ = [
    "ApiError",
    "ApiKey",
    "AtomicFile",
    "AuthenticationError",
    "BasicAuth",
    "BrightmetricsError",
    "Budget",
    "BudgetExhausted",
    "BudgetSnapshot",
    "BudgetStoreError",
    "Clock",
    "ConfigurationError",
    "Estimate",
    "F",
    "FilterError",
    "FilterExpr",
    "FilterSchema",
    "Format",
    "InvalidToken",
    "InvalidTokenLink",
    "ItemCost",
    "Job",
    "JobError",
    "JobExpired",
    "JobHistory",
    "JobKeys",
    "JobRecord",
    "JobState",
    "Journal",
    "JournalEntry",
    "KnowledgeStore",
    "Known",
    "Learned",
    "Limits",
    "MemoryBudget",
    "MemoryKnowledge",
    "MemoryResultCache",
    "NotFound",
    "ORDERED_TYPES",
    "Page",
    "PageIterator",
    "PollPolicy",
    "Pull",
    "PullEvent",
    "PullItem",
    "PullResult",
    "Query",
    "RateLimited",
    "RedisBudget",
    "RedisJobKeys",
    "RedisKnowledge",
    "RedisResultCache",
    "Report",
    "Request",
    "RequestTimeout",
    "ResultCache",
    "RetryPolicy",
    "RowIterator",
    "SQLiteBudget",
    "SQLiteJobKeys",
    "SQLiteKnowledge",
    "Session",
    "SystemClock",
    "TEXT_TYPES",
    "Timeouts",
    "TransportError",
    "UnexpectedResponse",
    "UnknownTimezone",
    "UnsafeLink",
    "auth_from_env",
    "between",
    "cost_table",
    "default_budget_path",
    "default_journal_path",
    "default_knowledge_path",
    "eq",
    "estimate_requests",
    "ge",
    "gt",
    "hash_password",
    "le",
    "lt",
    "ne",
    "odata_name",
    "parse_filter",
    "parse_format",
    "period",
    "render_filter",
    "row_typer",
    "where",
    "windows_timezone",
    "write_json_array",
]
