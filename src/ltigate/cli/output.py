"""What the CLI prints: Rich tables and fields for people, JSON for scripts, one red line per error.

Consoles are made per call, so they write to whatever stdout/stderr are at that moment (tests swap them).
Values are printed as `Text`, never as markup: a `[` in a platform name is not a style tag.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Final

from rich.console import Console
from rich.table import Table
from rich.text import Text

# Piped output has no terminal width; wide enough that ids, keys and URLs in tables stay on one line.
PIPE_WIDTH: Final = 200


def stdout() -> Console:
    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = PIPE_WIDTH
    return console


def stderr() -> Console:
    return Console(stderr=True, highlight=False)


def when(timestamp: float | None) -> str:
    """A Unix timestamp as UTC, to the second; '-' for none."""
    if timestamp is None:
        return "-"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def print_json(data: object) -> None:
    """Indented JSON on stdout, nothing else, so `| jq` works."""
    stdout().print(Text(json.dumps(data, indent=2, ensure_ascii=False)), soft_wrap=True)


def print_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[str]], *, empty: str) -> None:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(Text(value) for value in row))
    console = stdout()
    if table.row_count == 0:
        console.print(Text(empty, style="dim"), soft_wrap=True)
    else:
        console.print(table)


def print_fields(fields: Sequence[tuple[str, str]]) -> None:
    """Name/value lines, names aligned; values are never wrapped (URLs stay copyable)."""
    width = max((len(name) for name, _ in fields), default=0)
    console = stdout()
    for name, value in fields:
        line = Text(f"{name:<{width}}  ", style="bold")
        line.append(value)
        console.print(line, soft_wrap=True)


def print_line(message: str, style: str = "") -> None:
    stdout().print(Text(message, style=style), soft_wrap=True)


def print_done(message: str) -> None:
    print_line(message, style="green")


def print_warning(message: str) -> None:
    stderr().print(Text(message, style="yellow"), soft_wrap=True)


def print_error(code: str, message: str, field: str | None = None) -> None:
    """One red line on stderr: `error <code> (<field>): <message>`."""
    where = f" ({field})" if field else ""
    stderr().print(Text(f"error {code}{where}: {message}", style="red"), soft_wrap=True)
