"""A small SoQL subset compiled to SQLite over the stored row JSON.

Supported: ``$select`` (field list, ``*``, ``:*``, ``AS`` aliases, ``count(*)``), ``$where``
(= != <> < <= > >=, AND, OR, NOT, IS [NOT] NULL, [NOT] IN (...), [NOT] LIKE, BETWEEN, parentheses,
string/number/boolean literals), ``$order`` (fields or system fields, ASC/DESC), ``$limit``,
``$offset``, ``$q`` and plain ``?field=value`` equality filters. Anything else is refused with the
portal's ``query.compiler.malformed`` error rather than silently ignored, so tests notice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from . import ids
from .datatypes import BadValue, normalizer, parse_timestamp
from .errors import SocrataError, malformed_query

DEFAULT_LIMIT = 1000
MAX_LIMIT = 50000
SYSTEM_FIELDS = (":id", ":created_at", ":updated_at")
NUMERIC = {"number", "money", "percent", "double"}

_TOKEN = re.compile(
    r"""
    \s*(?:
      (?P<str>'(?:[^']|'')*')
    | (?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
    | (?P<op><=|>=|!=|<>|=|<|>|\(|\)|,|\*)
    | (?P<ident>:?[A-Za-z_@][A-Za-z0-9_@]*|`[^`]+`|:\*)
    )""",
    re.X,
)


def no_such_column(name: str) -> SocrataError:
    return SocrataError(400, "query.soql.no-such-column", f"No such column: {name}", {"column": name})


@dataclass
class Tok:
    kind: str
    value: str


def tokenize(text: str) -> list[Tok]:
    pos, out = 0, []
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise malformed_query(f"Could not parse SoQL near: {text[pos : pos + 20]!r}", {"position": pos})
        kind = m.lastgroup
        out.append(Tok(kind, m.group(kind)))
        pos = m.end()
    return out


@dataclass
class Query:
    columns: list[tuple[str, str]] = field(default_factory=list)  # (field, alias) of the output
    count_alias: str | None = None
    where: str = ""
    params: list[Any] = field(default_factory=list)
    order: str = "sid"
    order_is_sid: bool = True
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    default_select: bool = True


class Compiler:
    def __init__(self, columns: list[dict[str, Any]]):
        self.types = {c["fieldName"]: c["dataTypeName"] for c in columns}
        self.fields = [c["fieldName"] for c in sorted(columns, key=lambda c: c["position"])]

    # ---- entry point ----

    def compile(self, params: dict[str, str], *, include_system: bool = False) -> Query:
        q = Query()
        if "$query" in params or "$group" in params or "$having" in params:
            raise malformed_query("$query, $group and $having are not supported by this emulator")
        self._select(q, params.get("$select"), include_system)
        clauses, args = [], []
        if params.get("$where"):
            sql, a = self._where(params["$where"])
            clauses.append(sql)
            args += a
        for name, value in params.items():
            if name.startswith("$"):
                continue
            sql, a = self._comparison(self._field(name), "=", ("lit", value))
            clauses.append(sql)
            args += a
        if params.get("$q"):
            clauses.append("instr(lower(data), ?) > 0")
            args.append(params["$q"].lower())
        q.where, q.params = " AND ".join(f"({c})" for c in clauses), args
        if params.get("$order"):
            q.order, q.order_is_sid = self._order(params["$order"])
        q.limit = self._int(params.get("$limit"), DEFAULT_LIMIT, "$limit")
        if q.limit > MAX_LIMIT:
            raise malformed_query(f"$limit must be at most {MAX_LIMIT}")
        q.offset = self._int(params.get("$offset"), 0, "$offset")
        return q

    @staticmethod
    def _int(value: str | None, default: int, name: str) -> int:
        if value in (None, ""):
            return default
        try:
            n = int(value)
        except ValueError:
            raise malformed_query(f"{name} must be a non-negative integer") from None
        if n < 0:
            raise malformed_query(f"{name} must be a non-negative integer")
        return n

    # ---- fields ----

    def _field(self, name: str) -> str:
        name = name.strip("`")
        if name in SYSTEM_FIELDS or name in self.types:
            return name
        raise no_such_column(name)

    def _sql_of(self, name: str) -> str:
        if name == ":id":
            return "sid"
        if name == ":created_at":
            return "created_at"
        if name == ":updated_at":
            return "updated_at"
        path = f"json_extract(data, '$.\"{name}\"')"
        if self.types[name] in NUMERIC:
            return f"CAST({path} AS REAL)"
        return path

    def _literal(self, name: str, value: Any) -> Any:
        """A literal coerced to the comparison column's stored form, so SQL compares like with like."""
        if value is None:
            return None
        if name == ":id":
            sid = ids.sid_of(str(value))
            return sid if sid is not None else -1
        if name in (":created_at", ":updated_at"):
            try:
                dt = parse_timestamp(str(value))
            except BadValue as exc:
                raise malformed_query(str(exc)) from None
            return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()
        t = self.types[name]
        if t in NUMERIC:
            try:
                return float(value)
            except (TypeError, ValueError):
                raise SocrataError(
                    400, "query.soql.type-mismatch", f"Type mismatch: {name} is a number, {value!r} is not"
                ) from None
        if t == "checkbox":
            v = str(value).lower()
            if v not in ("true", "false"):
                raise SocrataError(400, "query.soql.type-mismatch", f"Type mismatch: {name} is a checkbox")
            return 1 if v == "true" else 0
        try:
            out = normalizer(t)(value)
        except BadValue as exc:
            raise SocrataError(400, "query.soql.type-mismatch", f"Type mismatch for {name}: {exc}") from None
        return out if isinstance(out, str) else str(value)

    # ---- $select ----

    def _select(self, q: Query, text: str | None, include_system: bool) -> None:
        if not text or not text.strip():
            q.columns = [(f, f) for f in ([*SYSTEM_FIELDS] if include_system else []) + self.fields]
            return
        q.default_select = False
        for item in _split_commas(text):
            toks = tokenize(item)
            alias = None
            if len(toks) >= 3 and toks[-2].kind == "ident" and toks[-2].value.lower() == "as":
                alias = toks[-1].value.strip("`")
                toks = toks[:-2]
            vals = [t.value for t in toks]
            if vals == ["*"]:
                q.columns += [(f, f) for f in self.fields]
            elif vals == [":*"]:
                q.columns += [(f, f) for f in SYSTEM_FIELDS]
            elif len(toks) == 4 and vals[0].lower() == "count" and vals[1] == "(" and vals[3] == ")":
                if vals[2] != "*":
                    self._field(vals[2])
                q.count_alias = alias or "count"
            elif len(toks) == 1 and toks[0].kind == "ident":
                name = self._field(vals[0])
                q.columns.append((name, alias or name))
            else:
                raise malformed_query(f"Unsupported $select item: {item.strip()!r}")
        if q.count_alias and q.columns:
            raise malformed_query("count(*) cannot be mixed with columns without $group")

    # ---- $order ----

    def _order(self, text: str) -> tuple[str, bool]:
        parts = []
        names = []
        for item in _split_commas(text):
            toks = tokenize(item)
            direction = "ASC"
            if len(toks) == 2 and toks[1].value.upper() in ("ASC", "DESC"):
                direction = toks[1].value.upper()
                toks = toks[:1]
            if len(toks) != 1 or toks[0].kind != "ident":
                raise malformed_query(f"Unsupported $order item: {item.strip()!r}")
            name = self._field(toks[0].value)
            names.append((name, direction))
            parts.append(f"{self._sql_of(name)} {direction}")
        if names == [(":id", "ASC")]:
            return "sid", True
        return ", ".join(parts + ["sid"]), False

    # ---- $where ----

    def _where(self, text: str) -> tuple[str, list[Any]]:
        self.toks, self.pos = tokenize(text), 0
        sql, args = self._or()
        if self.pos != len(self.toks):
            raise malformed_query(f"Unexpected {self.toks[self.pos].value!r} in $where")
        return sql, args

    def _peek(self, *words: str) -> bool:
        if self.pos >= len(self.toks):
            return False
        t = self.toks[self.pos]
        return t.value.upper() in words if t.kind == "ident" else t.value in words

    def _take(self) -> Tok:
        if self.pos >= len(self.toks):
            raise malformed_query("Unexpected end of $where")
        self.pos += 1
        return self.toks[self.pos - 1]

    def _expect(self, value: str) -> None:
        t = self._take()
        if t.value.upper() != value:
            raise malformed_query(f"Expected {value} in $where, found {t.value!r}")

    def _or(self):
        sql, args = self._and()
        while self._peek("OR"):
            self._take()
            s2, a2 = self._and()
            sql, args = f"({sql}) OR ({s2})", args + a2
        return sql, args

    def _and(self):
        sql, args = self._not()
        while self._peek("AND"):
            self._take()
            s2, a2 = self._not()
            sql, args = f"({sql}) AND ({s2})", args + a2
        return sql, args

    def _not(self):
        if self._peek("NOT"):
            self._take()
            sql, args = self._not()
            return f"NOT ({sql})", args
        return self._predicate()

    def _operand(self):
        t = self._take()
        if t.kind == "str":
            return ("lit", t.value[1:-1].replace("''", "'"))
        if t.kind == "num":
            return ("lit", t.value)
        if t.kind == "ident" and t.value.upper() in ("TRUE", "FALSE"):
            return ("lit", t.value.lower())
        if t.kind == "ident" and t.value.upper() == "NULL":
            return ("lit", None)
        if t.kind == "ident":
            if self._peek("("):
                raise malformed_query(f"SoQL function {t.value}() is not supported by this emulator")
            return ("field", self._field(t.value))
        raise malformed_query(f"Unexpected {t.value!r} in $where")

    def _predicate(self):
        if self._peek("("):
            self._take()
            sql, args = self._or()
            self._expect(")")
            return sql, args
        left = self._operand()
        if self._peek("IS"):
            self._take()
            negate = self._peek("NOT") and bool(self._take())
            self._expect("NULL")
            return f"{self._operand_sql(left, left)[0]} IS {'NOT ' if negate else ''}NULL", self._operand_sql(
                left, left
            )[1]
        negate = self._peek("NOT") and bool(self._take())
        if self._peek("IN"):
            self._take()
            self._expect("(")
            items = [self._operand()]
            while self._peek(","):
                self._take()
                items.append(self._operand())
            self._expect(")")
            lsql, largs = self._operand_sql(left, left)
            args = list(largs)
            marks = []
            for it in items:
                s, a = self._operand_sql(it, left)
                marks.append(s)
                args += a
            return f"{lsql} {'NOT ' if negate else ''}IN ({', '.join(marks)})", args
        if self._peek("LIKE"):
            self._take()
            right = self._operand()
            lsql, largs = self._operand_sql(left, left)
            rsql, rargs = self._operand_sql(right, ("lit", None), raw=True)
            return f"{lsql} {'NOT ' if negate else ''}LIKE {rsql}", largs + rargs
        if self._peek("BETWEEN"):
            self._take()
            low = self._operand()
            self._expect("AND")
            high = self._operand()
            lsql, largs = self._operand_sql(left, left)
            s1, a1 = self._operand_sql(low, left)
            s2, a2 = self._operand_sql(high, left)
            return f"{lsql} {'NOT ' if negate else ''}BETWEEN {s1} AND {s2}", largs + a1 + a2
        if negate:
            raise malformed_query("NOT must be followed by IN, LIKE or BETWEEN here")
        t = self._take()
        if t.kind != "op" or t.value not in ("=", "!=", "<>", "<", "<=", ">", ">="):
            raise malformed_query(f"Expected a comparison operator, found {t.value!r}")
        right = self._operand()
        if left[0] == "lit" and right[0] == "field":
            left, right = right, left
            t = Tok("op", {"<": ">", ">": "<", "<=": ">=", ">=": "<="}.get(t.value, t.value))
        return self._comparison(left[1] if left[0] == "field" else None, t.value, right, left)

    def _comparison(self, name, op, right, left=None):
        left = left or ("field", name)
        op = "!=" if op == "<>" else op
        lsql, largs = self._operand_sql(left, left)
        rsql, rargs = self._operand_sql(right, left)
        return f"{lsql} {op} {rsql}", largs + rargs

    def _operand_sql(self, operand, context, raw: bool = False):
        kind, value = operand
        if kind == "field":
            return self._sql_of(value), []
        if value is None:
            return "NULL", []
        if raw or context[0] != "field":
            return "?", [value]
        return "?", [self._literal(context[1], value)]


def _split_commas(text: str) -> list[str]:
    """Split on commas outside parentheses and quotes."""
    out, depth, cur, quote = [], 0, [], False
    for ch in text:
        if ch == "'":
            quote = not quote
        elif not quote and ch == "(":
            depth += 1
        elif not quote and ch == ")":
            depth -= 1
        if ch == "," and depth == 0 and not quote:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if "".join(cur).strip():
        out.append("".join(cur))
    return out


def run_query(conn, ds_pk: int, q: Query) -> list[tuple]:
    """Rows (sid, created_at, updated_at, data) for a compiled query, or [(count,)] for count(*)."""
    where = f"ds=? AND {q.where}" if q.where else "ds=?"
    args = [ds_pk, *q.params]
    if q.count_alias:
        return conn.execute(f"SELECT count(*) FROM rows WHERE {where}", args).fetchall()
    if q.order_is_sid and not q.where:
        # Skip the offset inside the (ds, sid) index, then fetch only the page's rows: deep pages
        # cost an index walk, not a table scan.
        return conn.execute(
            "SELECT sid, created_at, updated_at, data FROM rows WHERE sid IN ("
            " SELECT sid FROM rows WHERE ds=? ORDER BY sid LIMIT ? OFFSET ?) ORDER BY sid",
            (ds_pk, q.limit, q.offset),
        ).fetchall()
    return conn.execute(
        f"SELECT sid, created_at, updated_at, data FROM rows WHERE {where} ORDER BY {q.order}"
        " LIMIT ? OFFSET ?",
        (*args, q.limit, q.offset),
    ).fetchall()
