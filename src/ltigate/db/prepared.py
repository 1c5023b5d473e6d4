"""Hot-path statements compiled once and run on the database driver itself, below SQLAlchemy's execution.

SQLAlchemy's per-execution work (execution context, parameter processing, result metadata, and on asyncio
the greenlet hand-offs) costs ~50 µs a statement on SQLite, more than SQLite takes to run it, and ~125 µs
on asyncpg, more than the driver's own work (bench/README.md). The few statements every launch runs are
`Prepared`: compiled once per dialect, their parameters put in the driver's order from a mapping, their
rows given attribute access as SQLAlchemy's Row gives it. `db.engine.run` chooses the runner.

Only for statements whose parameters and result columns need no type conversion (text, numbers, booleans,
NULL): the driver gets the values as they are and returns them as it reads them.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

_SQLITE = SQLiteDialect_pysqlite()
_POSTGRESQL = PGDialect_asyncpg()  # type: ignore[no-untyped-call]


class Compiled:
    """One statement's SQL for one driver (`?` for sqlite3, `$n` with casts for asyncpg) and its
    parameter names in the driver's order."""

    __slots__ = ("_row", "names", "sql")

    def __init__(self, statement: Executable, dialect: Any) -> None:
        compiled = cast(SQLCompiler, cast(ClauseElement, statement).compile(dialect=dialect))
        self.sql: str = compiled.string
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ())
        self._row: Any = None

    def parameters(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(values[name] for name in self.names)

    def rows(self, columns: Iterable[str], raw: Sequence[Iterable[Any]]) -> list[Any]:
        """Rows with attribute access by column name; `columns` is read only for the first row ever."""
        if not raw:
            return []
        if self._row is None:
            self._row = namedtuple("Row", list(columns), rename=True)  # type: ignore[misc]
        make = self._row._make
        return [make(row) for row in raw]


class Prepared:
    """A hot-path statement with its SQLite and PostgreSQL (asyncpg) forms. Other engines run `statement`
    through SQLAlchemy as usual."""

    __slots__ = ("_postgresql", "_sqlite", "statement")

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._sqlite: Compiled | None = None
        self._postgresql: Compiled | None = None

    @property
    def sqlite(self) -> Compiled:
        """The sqlite3 form, compiled on first use (a statement built for PostgreSQL never is)."""
        if self._sqlite is None:
            self._sqlite = Compiled(self.statement, _SQLITE)
        return self._sqlite

    @property
    def postgresql(self) -> Compiled:
        """The asyncpg form, compiled on first use."""
        if self._postgresql is None:
            self._postgresql = Compiled(self.statement, _POSTGRESQL)
        return self._postgresql
