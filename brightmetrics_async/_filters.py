"""The client-side ``$filter``: builder, parser, checker (one import point).

* ``_filter_expr``: the expression objects and their OData text;
* ``_filter_build``: ``where``, ``F``, ``eq``/``ne``/``gt``/``ge``/``lt``/``le``/``between``;
* ``_filter_parse``: ``parse_filter`` (raw text to expressions);
* ``_filter_check``: ``check_filter`` (the vendor's rules) and ``prepare_filter`` (what
  the session calls before every data request).
"""

from __future__ import annotations

from ._filter_build import Condition as Condition
from ._filter_build import F as F
from ._filter_build import between as between
from ._filter_build import eq as eq
from ._filter_build import ge as ge
from ._filter_build import gt as gt
from ._filter_build import le as le
from ._filter_build import lt as lt
from ._filter_build import ne as ne
from ._filter_build import where as where
from ._filter_check import check_filter as check_filter
from ._filter_check import prepare_filter as prepare_filter
from ._filter_expr import Comparison as Comparison
from ._filter_expr import FilterExpr as FilterExpr
from ._filter_expr import FilterValue as FilterValue
from ._filter_expr import InList as InList
from ._filter_expr import Op as Op
from ._filter_expr import render_filter as render_filter
from ._filter_expr import render_literal as render_literal
from ._filter_parse import parse_filter as parse_filter

__all__ = [
    "Comparison",
    "Condition",
    "F",
    "FilterExpr",
    "FilterValue",
    "InList",
    "Op",
    "between",
    "check_filter",
    "eq",
    "ge",
    "gt",
    "le",
    "lt",
    "ne",
    "parse_filter",
    "prepare_filter",
    "render_filter",
    "render_literal",
    "where",
]
