"""Column building blocks of the hot path that compile into Spark's generated code.

Spark has no generated code for its higher-order functions (`filter`, `array_compact`,
`map_filter`, `transform`...): it evaluates one row by row through the expression
interpreter, and with it every expression beneath it. A family's rule set wrapped in
`array_compact` took ~37 % of the executor samples of a 100k-row silver batch, interpreted
(docs/hot-path.md). What the hot path evaluates on every row is built from these instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column
from pyspark.sql import functions as F


def empty_array(element_type: str = "string") -> Column:
    """An empty array of `element_type`."""
    return F.array().cast(f"array<{element_type}>")


def values_where(items: Sequence[tuple[Column, Column]], element_type: str = "string") -> Column:
    """The non-null values of the `(condition, value)` pairs whose condition is true, in
    order, as an array (a null condition counts as false; repeats are kept; empty when none).

    What `array_compact(array(when(condition, value), ...))` gives, without the interpreted
    `array_compact`.
    """
    none = empty_array(element_type)
    if not items:
        return none
    return F.concat(
        *[F.when(cond & value.isNotNull(), F.array(value)).otherwise(none) for cond, value in items]
    )
