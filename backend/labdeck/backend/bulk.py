"""Many rows in one statement, the cheapest way each database offers.

Metric writes send a few hundred rows per call (every kernel, every flush),
and the generic path costs more than the database does:

- SQLite: SQLAlchemy processes each parameter set of an executemany in
  Python, which costs more than the insert itself; so the Core statement is
  compiled once and the driver gets it, with rows as tuples where a write
  sends many (`sqlite_positional`: the driver binds a tuple by position,
  a dict by a lookup per column).
- PostgreSQL: an executemany is one statement per row (psycopg pipelines
  them, but still binds and sends each); so the rows travel as one array
  per column and the server unnests them: one statement per batch. The
  arrays go in psycopg's binary format (`%(name)b`): its C dumper packs a
  list of floats ~4× faster than Python writes their text (780 floats of
  a 150-point batch: 0.13 ms against 0.5–0.6 ms for `str`, 2.0 ms for
  psycopg's own text dumper, measured on the machine of docs/hub.md), and
  a service spends that on every batch of every kernel. Statements that use
  them go to the driver (`Connection.exec_driver_sql`) as written here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ClauseElement
from sqlalchemy.dialects import sqlite
from sqlalchemy.sql.compiler import SQLCompiler


def sqlite_sql(statement: ClauseElement) -> str:
    """`statement` compiled for SQLite's driver, parameters named as its columns."""
    return str(statement.compile(dialect=sqlite.dialect(paramstyle="named")))


def sqlite_positional(statement: ClauseElement, columns: Sequence[str]) -> str:
    """`statement` compiled for SQLite's driver with `?` parameters, which
    must come in the order of `columns` (checked here, once, at import)."""
    compiled = statement.compile(dialect=sqlite.dialect(paramstyle="qmark"))
    assert isinstance(compiled, SQLCompiler)
    order = tuple(compiled.positiontup or ())
    if order != tuple(columns):
        raise ValueError(f"parameters in the order {order}, not {tuple(columns)}")
    return str(compiled)


def unnest(columns: dict[str, str], prefix: str = "") -> str:
    """`SELECT` of the rows unnested from one binary array parameter per
    column, in psycopg's `%(name)b` style, `columns` naming each column's
    PostgreSQL type; the parameters are the columns' names after `prefix`
    (several unnests in one statement)."""
    arrays = ", ".join(f"CAST(%({prefix}{name})b AS {kind}[])" for name, kind in columns.items())
    return f"SELECT * FROM unnest({arrays}) AS batch({', '.join(columns)})"


def arrays(rows: Iterable[Sequence[Any]], names: Sequence[str], prefix: str = "") -> dict[str, Any]:
    """The parameters of an `unnest` statement: one list per column, from
    non-empty rows given as tuples in the order of `names`. A column holds
    values of one Python type (ints, or finite floats: psycopg's binary
    dumper refuses a mixed list)."""
    columns = zip(*rows, strict=True)
    return {prefix + name: list(column) for name, column in zip(names, columns, strict=True)}
