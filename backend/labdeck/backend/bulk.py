"""Many rows in one statement, the cheapest way each database offers.

Metric writes send a few hundred rows per call (every kernel, every flush),
and the generic path costs more than the database does:

- SQLite: SQLAlchemy processes each parameter set of an executemany in
  Python, which costs more than the insert itself; so the Core statement is
  compiled once (named style, so rows stay dicts) and the driver gets it.
- PostgreSQL: an executemany is one statement per row (psycopg pipelines
  them, but still binds and sends each); so the rows travel as one array
  per column and the server unnests them: one statement per batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ClauseElement
from sqlalchemy.dialects import sqlite


def sqlite_sql(statement: ClauseElement) -> str:
    """`statement` compiled for SQLite's driver, parameters named as its columns."""
    return str(statement.compile(dialect=sqlite.dialect(paramstyle="named")))


def unnest(columns: dict[str, str]) -> str:
    """`SELECT` of the rows unnested from one array parameter per column,
    `columns` naming each column's PostgreSQL type."""
    arrays = ", ".join(f"CAST(:{name} AS {kind}[])" for name, kind in columns.items())
    return f"SELECT * FROM unnest({arrays}) AS batch({', '.join(columns)})"


def arrays(rows: Sequence[dict[str, Any]], names: Sequence[str]) -> dict[str, str]:
    """The parameters of an `unnest` statement: one array literal per column.

    The columns hold ints and finite floats only, whose `str` PostgreSQL
    reads back exactly; written here as `{1,2.5,...}` text (which the CAST
    parses) because psycopg's list adapter checks every element's text
    against a quoting pattern, which cost more than the whole INSERT."""
    return {name: "{" + ",".join([str(row[name]) for row in rows]) + "}" for name in names}
