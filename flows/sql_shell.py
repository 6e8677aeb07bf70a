"""``bilateral sql`` with no query on a terminal: a small SQL shell on the published file.

One read-only connection with the locked settings of :mod:`flows.readonly` for the whole session
(it keeps the publication it opened; start the shell again to see a newer night). A statement may
span lines and runs at the line that ends with ``;``. Commands at the start of a statement:
``.tables``, ``.schema TABLE``, ``.help``, ``.quit`` (or Ctrl-D). Ctrl-C drops the statement being
typed. An error is printed and the shell goes on. History is kept with readline in
``$BILATERAL_SQL_HISTORY`` (default ``~/.local/state/bilateral/sql_history``).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable, TextIO

import duckdb

from flows import sql_catalog
from flows.sql_session import QueryError, is_empty_sql, run, strip_comments

PROMPT, MORE = "bilateral> ", "      ...> "
HISTORY_ENV = "BILATERAL_SQL_HISTORY"
HISTORY_LINES = 1000

HELP = """\
Type SQL ending with ';' (it may span lines). The published marts are in schema marts, what they
are in schema meta. Commands:
  .tables           the marts, their rows and descriptions
  .schema TABLE     one mart's columns, types and descriptions
  .help             this text
  .quit             leave (or Ctrl-D)"""


def history_path() -> Path:
    named = os.environ.get(HISTORY_ENV)
    if named:
        return Path(named)
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "bilateral" / "sql_history"


def _readline(history: Path):
    """readline with the history file loaded, or None where it is missing."""
    try:
        import readline
    except ImportError:
        return None
    try:
        readline.read_history_file(history)
    except OSError:
        pass
    readline.set_history_length(HISTORY_LINES)
    return readline


def _save_history(readline, history: Path) -> None:
    if readline is None:
        return
    try:
        history.parent.mkdir(parents=True, exist_ok=True)
        readline.write_history_file(history)
    except OSError:
        pass  # a read-only home: the shell still worked, only its history is not kept


def statement_complete(buffer: str) -> bool:
    """A statement ends with ';' (comments after it aside)."""
    return strip_comments(buffer).rstrip().endswith(";")


class Shell:
    def __init__(self, con: duckdb.DuckDBPyConnection, emit: Callable[[list[str], list[tuple]], None],
                 out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> None:
        self.con, self.emit, self.out, self.err = con, emit, out, err

    def command(self, line: str) -> bool:
        """Run a dot command; False when the shell should end."""
        word, _, rest = line.strip().partition(" ")
        word = word.lower()
        if word in (".quit", ".exit", ".q"):
            return False
        if word == ".help":
            print(HELP, file=self.out)
        elif word == ".tables":
            cols, rows = sql_catalog.marts(self.con)
            self.emit(cols, sql_catalog.shorten(rows, 3))
        elif word == ".schema":
            if not rest.strip():
                print("error: .schema needs a table, e.g. .schema country_pair_monthly (.tables lists them)", file=self.err)
            else:
                try:
                    cols, rows = sql_catalog.columns(self.con, rest.strip())
                except QueryError as exc:
                    print(f"error: {exc.message}", file=self.err)
                else:
                    self.emit(cols, sql_catalog.shorten(rows, 2))
        else:
            print(f"error: unknown command {word}; .help lists the commands", file=self.err)
        return True

    def statement(self, sql: str) -> None:
        if is_empty_sql(sql):
            return
        try:
            cols, rows = run(self.con, sql)
        except QueryError as exc:
            print(f"error: {exc.message}", file=self.err)
            return
        if cols:
            self.emit(cols, rows)
        else:
            print("ok", file=self.out)

    def loop(self, read: Callable[[str], str]) -> None:
        """Read lines with ``read(prompt)`` (EOFError ends, KeyboardInterrupt drops the statement)."""
        buffer: list[str] = []
        while True:
            try:
                line = read(MORE if buffer else PROMPT)
            except EOFError:
                if buffer and not is_empty_sql("\n".join(buffer)):
                    self.statement("\n".join(buffer))  # the last statement, without its ';'
                print(file=self.out)
                return
            except KeyboardInterrupt:
                print("^C", file=self.out)
                buffer = []
                continue
            if not buffer and line.strip().startswith("."):
                if not self.command(line):
                    return
                continue
            buffer.append(line)
            text = "\n".join(buffer)
            if statement_complete(text):
                buffer = []
                self.statement(text)
            elif is_empty_sql(text) and not text.strip():
                buffer = []


def run_shell(con: duckdb.DuckDBPyConnection, path: Path, emit, stdin: TextIO = sys.stdin) -> int:
    """The interactive loop on ``con`` (prompts and readline editing when stdin is a terminal)."""
    tty = stdin.isatty()
    if tty:
        print(f"bilateral sql on {path} (read-only). Statements end with ';'. .help for commands, .quit to leave.")
    history = history_path()
    readline = _readline(history) if tty else None

    def read(prompt: str) -> str:
        if tty:
            return input(prompt)
        line = stdin.readline()
        if not line:
            raise EOFError
        return line.rstrip("\n")

    try:
        Shell(con, emit).loop(read)
    finally:
        _save_history(readline, history)
    return 0
