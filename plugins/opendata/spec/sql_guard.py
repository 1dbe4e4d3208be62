"""Is an extraction query exactly one statement that only reads? (pure: text in, verdict out)

Run twice: by ``opendata lint`` on the dataset file, and again just before every extraction.
It is the first of two locks. The second is the database's own: the extraction runs in a
read-only transaction (``sql_session.py``), which also stops what no text check can see (a
function that writes, a view with side effects). This check exists so that a wrong query is
refused at review time with a clear reason, and so that the things a read-only transaction does
*not* stop are refused too: a second statement, ``SELECT ... INTO OUTFILE``, row locks, and
functions that reach outside the transaction (another connection, the server's files).

The query is tokenized, never pattern-matched, so a ``;`` or a keyword inside a string literal,
a quoted identifier or a comment means nothing. Databases disagree on where a literal ends
(MySQL lets a backslash escape a quote and starts comments with ``#``; PostgreSQL nests block
comments and has dollar quoting; SQLite and SQL Server quote identifiers in brackets). The
connection's database is not known when a dataset file is linted, so the query is read the way
each family reads it, and it passes only if every reading finds one read statement. A query
that means different things to different databases is refused: it is either a mistake or an
attack, and either way it must be rewritten.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# How each family of databases reads literals and comments.


@dataclass(frozen=True)
class Dialect:
    # How a refusal names this reading of the query.
    rules: str
    # A backslash escapes the next character inside '...' and "..." (MySQL, MariaDB).
    backslash_escapes: bool = False
    # "..." is a string literal, not an identifier (MySQL without ANSI_QUOTES).
    double_quote_string: bool = False
    # '#' starts a comment to the end of the line (MySQL, MariaDB).
    hash_comments: bool = False
    # '--' starts a comment only when followed by whitespace (MySQL: '1--1' is arithmetic).
    dash_comment_needs_space: bool = False
    # /* /* */ */ nests (PostgreSQL).
    nested_comments: bool = False
    # $tag$ ... $tag$ string literals, and E'...' with backslash escapes (PostgreSQL).
    dollar_quotes: bool = False
    # [identifier] (SQLite, SQL Server).
    bracket_identifiers: bool = False


POSTGRESQL = Dialect("PostgreSQL's rules (nested comments, $$ quoting)", nested_comments=True, dollar_quotes=True)
MYSQL = Dialect("MySQL's and MariaDB's rules (backslash escapes, # comments)", backslash_escapes=True,
                double_quote_string=True, hash_comments=True, dash_comment_needs_space=True)
BRACKETS = Dialect("SQLite's and SQL Server's rules ([bracketed] names)", bracket_identifiers=True)
DIALECTS = (POSTGRESQL, MYSQL, BRACKETS)

# A read statement starts with one of these (after any opening parentheses).
READ_STARTS = {"SELECT", "WITH", "VALUES"}

# Words that change data or the schema wherever they appear: a data-modifying CTE
# ("WITH gone AS (DELETE ... RETURNING *) SELECT ..."), or a statement smuggled after one.
# Statement-level commands (DROP, GRANT, COPY, CALL, SET, COMMIT...) are refused by the
# start rule instead, so that ordinary column names such as "comment" or "set" stay usable.
WRITE_WORDS = {"INSERT", "UPDATE", "DELETE", "MERGE", "UPSERT", "TRUNCATE", "CREATE", "DROP", "ALTER"}

# SELECT ... INTO creates a table (PostgreSQL, SQL Server), writes a server file (MySQL's INTO
# OUTFILE / DUMPFILE) or sets variables; an extraction needs none of it.
INTO = "INTO"

# Row-locking clauses: a read-only transaction still takes these locks, and a pipeline holding
# them while it streams a large table blocks the source system's own writers.
LOCKING = (("FOR", "UPDATE"), ("FOR", "NO", "KEY", "UPDATE"), ("FOR", "SHARE"), ("FOR", "KEY", "SHARE"),
           ("LOCK", "IN", "SHARE", "MODE"))
# SQL Server's table hints that lock.
LOCK_HINTS = {"UPDLOCK", "XLOCK", "HOLDLOCK", "TABLOCK", "TABLOCKX", "PAGLOCK", "ROWLOCK", "SERIALIZABLE"}

# Functions whose effect a read-only transaction does not stop: they open another connection
# (dblink), act on other sessions or the server (terminate, reload, advisory locks), read or
# write the server's files, change settings (set_config could switch read-only off for the
# session's next transactions), or advance sequences. Matched as a name followed by "(".
OUTSIDE_FUNCTIONS = {
    # PostgreSQL
    "set_config", "pg_terminate_backend", "pg_cancel_backend", "pg_reload_conf", "pg_rotate_logfile",
    "pg_promote", "pg_switch_wal", "pg_create_restore_point", "pg_read_file", "pg_read_binary_file",
    "pg_ls_dir", "pg_stat_file", "pg_file_write", "pg_file_rename", "pg_file_unlink", "lo_import", "lo_export",
    "lo_unlink", "lo_create", "lo_from_bytea", "lo_put", "pg_logical_emit_message", "nextval", "setval",
    # MySQL and MariaDB
    "load_file", "sys_exec", "sys_eval", "get_lock", "release_lock", "release_all_locks",
    # SQLite (extensions and the shell's file functions)
    "load_extension", "writefile", "readfile", "edit", "fts3_tokenizer",
    # SQL Server (a linked server or another data source runs whatever it is handed)
    "openquery", "openrowset", "opendatasource",
}
OUTSIDE_PREFIXES = ("dblink", "pg_advisory", "pg_try_advisory")


@dataclass(frozen=True)
class QueryProblem:
    """Why a query is refused, and the line of the query where it was found (from 1)."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


class UnsafeQuery(ValueError):
    """The query is not exactly one read statement."""

    def __init__(self, problem: QueryProblem):
        super().__init__(str(problem))
        self.problem = problem


@dataclass(frozen=True)
class Token:
    # "word" (upper-cased), "punct" (one character), "literal" (a string or quoted identifier)
    kind: str
    text: str
    start: int
    end: int


class _Unterminated(Exception):
    def __init__(self, what: str, start: int):
        self.what, self.start = what, start


_WORD = re.compile(r"[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*|[0-9][A-Za-z0-9_.$]*")
_DOLLAR_TAG = re.compile(r"\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$")


def tokenize(sql: str, dialect: Dialect) -> list[Token]:
    """Significant tokens: comments and whitespace dropped, literals kept as one token each.

    Raises ``_Unterminated`` for a literal or comment that never ends, and ``UnsafeQuery`` for
    an executable comment (MySQL runs what is inside ``/*! ... */``).
    """
    tokens: list[Token] = []
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        nxt = sql[i + 1] if i + 1 < n else ""
        if c.isspace():
            i += 1
            continue
        if c == "-" and nxt == "-" and (not dialect.dash_comment_needs_space or i + 2 >= n
                                        or sql[i + 2].isspace() or ord(sql[i + 2]) < 32):
            i = _line_end(sql, i)
            continue
        if c == "#" and dialect.hash_comments:
            i = _line_end(sql, i)
            continue
        if c == "/" and nxt == "*":
            if sql.startswith(("/*!", "/*M!"), i):
                raise UnsafeQuery(QueryProblem(_line(sql, i), "an executable comment (/*! ... */): MySQL and "
                                               "MariaDB run what is inside it; write the SQL plainly"))
            i = _block_comment_end(sql, i, dialect.nested_comments)
            continue
        if c == "'" or (c == '"' and dialect.double_quote_string):
            end = _quoted_end(sql, i, c, dialect.backslash_escapes, "string literal")
        elif c in "Ee" and nxt == "'" and dialect.dollar_quotes and not _after_word(sql, i):
            # PostgreSQL's escape string: backslashes escape, whatever standard_conforming_strings says.
            end = _quoted_end(sql, i + 1, "'", True, "string literal")
        elif c in '"`':
            end = _quoted_end(sql, i, c, False, "quoted identifier")
        elif c == "[" and dialect.bracket_identifiers:
            close = sql.find("]", i + 1)
            if close < 0:
                raise _Unterminated("bracketed identifier", i)
            end = close + 1
        elif c == "$" and dialect.dollar_quotes and not _after_word(sql, i) and (tag := _DOLLAR_TAG.match(sql, i)):
            close = sql.find(tag.group(0), tag.end())
            if close < 0:
                raise _Unterminated(f"dollar-quoted string {tag.group(0)}", i)
            end = close + len(tag.group(0))
        elif word := _WORD.match(sql, i):
            tokens.append(Token("word", word.group(0).upper(), i, word.end()))
            i = word.end()
            continue
        else:
            tokens.append(Token("punct", c, i, i + 1))
            i += 1
            continue
        tokens.append(Token("literal", sql[i], i, end))
        i = end
    return tokens


def _line(sql: str, offset: int) -> int:
    return sql.count("\n", 0, offset) + 1


def _line_end(sql: str, i: int) -> int:
    end = sql.find("\n", i)
    return len(sql) if end < 0 else end + 1


def _after_word(sql: str, i: int) -> bool:
    """The character before ``i`` continues an identifier (so ``$`` or ``E`` there is not a quote)."""
    return i > 0 and (sql[i - 1].isalnum() or sql[i - 1] in "_$")


def _block_comment_end(sql: str, start: int, nested: bool) -> int:
    depth, i = 1, start + 2
    while i < len(sql):
        if sql.startswith("*/", i):
            depth -= 1
            i += 2
            if depth == 0 or not nested:
                return i
        elif nested and sql.startswith("/*", i):
            depth += 1
            i += 2
        else:
            i += 1
    raise _Unterminated("comment", start)


def _quoted_end(sql: str, start: int, quote: str, backslash: bool, what: str) -> int:
    """The offset just past the literal opening at ``start`` (a doubled quote is an escaped one)."""
    i = start + 1
    while i < len(sql):
        c = sql[i]
        if backslash and c == "\\":
            i += 2
        elif c == quote:
            if sql.startswith(quote, i + 1):
                i += 2
            else:
                return i + 1
        else:
            i += 1
    raise _Unterminated(what, start)


# --- the verdict -----------------------------------------------------------------------------------

def find_problem(sql: str) -> QueryProblem | None:
    """Why ``sql`` is not exactly one read statement, or None when it is (in every reading)."""
    found = [(dialect, _problem_in(sql, dialect)) for dialect in DIALECTS]
    problems = [(dialect, problem) for dialect, problem in found if problem is not None]
    if not problems:
        return None
    dialect, problem = problems[0]
    if len(problems) < len(DIALECTS):
        # Only some databases read it this way: say which, or the author will not see it.
        return QueryProblem(problem.line, f"{problem.reason} (read with {dialect.rules}; a query must be one "
                                          f"read statement under every database's rules)")
    return problem


def check_read_only(sql: str) -> str:
    """The one statement of ``sql`` without its leading and trailing comments and ``;``, ready to
    be wrapped in a subquery; raises ``UnsafeQuery`` when it is not exactly one read statement."""
    problem = find_problem(sql)
    if problem is not None:
        raise UnsafeQuery(problem)
    statement = _statements(tokenize(sql, POSTGRESQL))[0]
    return sql[statement[0].start:statement[-1].end]


def _problem_in(sql: str, dialect: Dialect) -> QueryProblem | None:
    try:
        tokens = tokenize(sql, dialect)
    except _Unterminated as exc:
        return QueryProblem(_line(sql, exc.start), f"a {exc.what} that never ends")
    except UnsafeQuery as exc:
        return exc.problem
    statements = _statements(tokens)
    if not statements:
        return QueryProblem(1, "the query is empty")
    if len(statements) > 1:
        second = statements[1][0]
        return QueryProblem(_line(sql, second.start),
                            f"a second statement ({_shown(sql, second)} ...) follows the first; an extraction "
                            f"runs exactly one read statement")
    return _statement_problem(sql, statements[0])


def _statements(tokens: list[Token]) -> list[list[Token]]:
    """Tokens split at ``;`` (outside literals and comments); empty statements dropped."""
    out: list[list[Token]] = [[]]
    for token in tokens:
        if token.kind == "punct" and token.text == ";":
            out.append([])
        else:
            out[-1].append(token)
    return [statement for statement in out if statement]


def _shown(sql: str, token: Token) -> str:
    return sql[token.start:token.end] if token.kind == "word" else token.text


def _statement_problem(sql: str, tokens: list[Token]) -> QueryProblem | None:
    first = next((t for t in tokens if not (t.kind == "punct" and t.text == "(")), tokens[0])
    if first.kind != "word" or first.text not in READ_STARTS:
        return QueryProblem(_line(sql, first.start),
                            f"the statement starts with {_shown(sql, first)}: an extraction runs one read "
                            f"statement, starting with SELECT, WITH or VALUES")
    words = [t.text if t.kind == "word" else None for t in tokens]
    for i, token in enumerate(tokens):
        line = _line(sql, token.start)
        for clause in LOCKING:
            if tuple(words[i:i + len(clause)]) == clause:
                return QueryProblem(line, f"a locking clause ({' '.join(clause)}): an extraction takes no locks "
                                          f"on the source's rows")
        if token.text in LOCK_HINTS and token.kind == "word":
            return QueryProblem(line, f"a locking table hint ({token.text}): an extraction takes no locks on "
                                      f"the source's rows")
        if token.kind == "word" and token.text in WRITE_WORDS:
            return QueryProblem(line, f"{_shown(sql, token)} changes data or the schema: an extraction only reads "
                                      f"(a data-modifying WITH clause is refused too)")
        if token.kind == "word" and token.text == INTO:
            return QueryProblem(line, "SELECT ... INTO writes (a new table, a server file or variables): an "
                                      "extraction only reads")
        called = tokens[i + 1] if i + 1 < len(tokens) else None
        if called is not None and called.kind == "punct" and called.text == "(":
            name = _function_name(sql, tokens, i)
            if name is not None and (name in OUTSIDE_FUNCTIONS or name.startswith(OUTSIDE_PREFIXES)):
                return QueryProblem(line, f"calls {name}(), which acts outside the extraction's read-only "
                                          f"transaction (another connection, other sessions, the server's files, "
                                          f"settings or sequences)")
            if name == "":
                return QueryProblem(line, "calls a function by an escaped (U&) name: write the name plainly")
    return None


def _function_name(sql: str, tokens: list[Token], i: int) -> str | None:
    """The lower-cased name of a call at token ``i`` ("" when it hides behind U& escapes)."""
    token = tokens[i]
    if token.kind == "word":
        return token.text.lower()
    if token.kind != "literal" or token.text not in '"`[':
        return None
    if i >= 2 and tokens[i - 1].text == "&" and tokens[i - 2].text == "U":
        return ""
    inner = sql[token.start + 1:token.end - 1]
    return inner.replace(token.text * 2, token.text).lower() if token.text != "[" else inner.lower()
