"""`-S` compound filters: parse to MCollective's call stack, evaluate on the node.

The call stack is what travels in the filter's `compound` list, so it keeps
MCollective 2.12's shape exactly: a list of one-key hashes, `{"statement" =>
"os.family=Debian"}`, `{"fstatement" => {"name", "params", "value",
"operator", "r_compare"}}`, `{"and" => "and"}`, `{"or" => "or"}`, `{"not" =>
"not"}`, `{"(" => "("}`, `{")" => ")"}`; a regex on the right of a data
function is a Ruby Regexp with operator `=~` or `!=~`.  Ruby nodes evaluate
stacks pymco builds and pymco evaluates stacks Ruby clients build.

The parser here is pymco's own: a tokenizer plus a grammar check that refuses
what MCollective refuses (dangling operators, unbalanced parentheses,
malformed function calls) with one line naming the offending part.  The
evaluator never uses `eval`: it folds the truth values with `not` binding
tighter than `and`, and `and` tighter than `or`, as Ruby's `! && ||` do.
"""

from __future__ import annotations

import logging
import operator as op
import re
from typing import TYPE_CHECKING, Any, Callable

from pymco.errors import DDLError, DDLValidationError, FilterSyntaxError, PymcoError
from pymco.matcher.facts import compile_regex, fact_matches
from pymco.matcher.fact_term import parse_fact_filter
from pymco.matcher.view import NodeView, name_matches
from pymco.protocol.message import text

if TYPE_CHECKING:
    from pymco.config import Config

log = logging.getLogger(__name__)

__all__ = ["parse_compound", "evaluate", "validate_functions", "functions", "describe"]

_KEYWORDS = ("and", "or", "not")
_OPERATORS = ("!=", "<=", ">=", "=~", "==", "=>", "=<", "=", "<", ">")
_FUNCTION = re.compile(r"""^(?P<name>[A-Za-z_]\w*)\((?P<params>\s*(?:'[^']*'|"[^"]*")?\s*)\)"""
                       r"""(?:\.(?P<output>\w+))?$""")
_MAX_LENGTH = 10_000


class _Token:
    __slots__ = ("kind", "value", "start", "end")

    def __init__(self, kind: str, value: Any, start: int, end: int) -> None:
        self.kind, self.value, self.start, self.end = kind, value, start, end


def _error(kind: str, source: str, start: int, end: int) -> FilterSyntaxError:
    part = source[start:end].strip() or source[start:start + 1]
    return FilterSyntaxError(f"{kind} in -S filter {source!r} at {part!r} (position {start + 1})")


class _Scanner:
    """Splits a -S expression into keyword, parenthesis and statement tokens."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.pos = 0

    def tokens(self) -> list[_Token]:
        found = []
        while True:
            self._skip_space()
            if self.pos >= len(self.source):
                return found
            found.append(self._next())

    def _skip_space(self) -> None:
        while self.pos < len(self.source) and self.source[self.pos].isspace():
            self.pos += 1

    def _peek_operator(self, at: int) -> str | None:
        for candidate in _OPERATORS:
            if self.source.startswith(candidate, at):
                return candidate
        return None

    def _next(self) -> _Token:
        src, start = self.source, self.pos
        char = src[start]
        if char in "()":
            self.pos += 1
            return _Token(char, char, start, self.pos)
        if char == "!" and not src.startswith("!=", start):
            self.pos += 1
            return _Token("not", "not", start, self.pos)
        for word in _KEYWORDS:
            end = start + len(word)
            if src.startswith(word, start) and (end == len(src) or src[end].isspace() or src[end] == "("):
                self.pos = end
                return _Token(word, word, start, end)
        return self._statement(start)

    def _quoted(self, at: int) -> tuple[str, int]:
        """A '...' or "..." value starting at `at`: its text and the index after it."""
        quote = self.source[at]
        end = self.source.find(quote, at + 1)
        if end < 0:
            raise _error("Unterminated quote", self.source, at, len(self.source))
        return self.source[at + 1:end], end + 1

    def _regex(self, at: int) -> tuple[str, int]:
        """A /.../ value starting at `at` (backslash escapes kept)."""
        src = self.source
        i = at + 1
        while i < len(src) and src[i] != "/":
            i += 2 if src[i] == "\\" else 1
        if i >= len(src):
            raise _error("Unterminated regular expression", src, at, len(src))
        return src[at:i + 1], i + 1

    def _word(self, at: int, stop: str = "") -> int:
        """Index after a bare word: up to white space, a parenthesis or a stop character."""
        src = self.source
        i = at
        while i < len(src) and not src[i].isspace() and src[i] not in "()" and src[i] not in stop:
            i += 1
        return i

    def _statement(self, start: int) -> _Token:
        src = self.source
        # a data function: name(args)[.output] [op value]
        m = re.match(r"[A-Za-z_]\w*\(", src[start:])
        if m:
            i = start + m.end()
            while i < len(src) and src[i] != ")":
                if src[i] in "'\"":
                    _, i = self._quoted(i)
                else:
                    i += 1
            if i >= len(src):
                raise _error("Missing parenthesis", src, start, len(src))
            i += 1
            out = re.match(r"\.\w+", src[i:])
            if out:
                i += out.end()
            call = src[start:i]
            if not _FUNCTION.match(call):
                raise _error("Malformed token", src, start, i)
            return self._comparison("fstatement", call, start, i)
        if src[start] == "/":
            value, end = self._regex(start)
            if self._peek_operator(end):
                raise _error("Malformed token", src, start, self._word(end))
            self.pos = end
            return _Token("statement", value, start, end)
        if src[start] in "'\"":
            raise _error("Malformed token", src, start, self._word(start + 1))
        end = self._word(start, stop="=<>!~")
        if end == start:
            raise _error("Malformed token", src, start, self._word(start))
        return self._comparison("statement", src[start:end], start, end)

    def _comparison(self, kind: str, left: str, start: int, end: int) -> _Token:
        """`left` alone, or `left OP value` with optional spaces around OP."""
        src = self.source
        i = end
        while i < len(src) and src[i].isspace():
            i += 1
        operator = self._peek_operator(i)
        if operator is None:
            if end < len(src) and not src[end].isspace() and src[end] not in "()":
                raise _error("Malformed token", src, start, self._word(end))
            self.pos = end
            return _Token(kind, left, start, end)
        i += len(operator)
        while i < len(src) and src[i].isspace():
            i += 1
        if i >= len(src):
            raise _error("Missing value", src, start, i)
        if src[i] in "'\"":
            value, i = self._quoted(i)
        elif src[i] == "/":
            value, i = self._regex(i)
        else:
            stop = self._word(i)
            value, i = src[i:stop], stop
        if not value and operator != "=":
            raise _error("Missing value", src, start, i)
        self.pos = i
        if kind == "fstatement":
            return _Token(kind, (left, operator, value), start, i)
        return _Token(kind, f"{left}{operator}{value}", start, i)


def _check_grammar(source: str, tokens: list[_Token]) -> None:
    """Refuse what MCollective's parser refuses, naming the first bad token."""
    if not tokens:
        raise FilterSyntaxError("Empty -S filter")
    operand = ("statement", "fstatement")
    depth = 0
    previous: _Token | None = None
    opened: list[_Token] = []
    for token in tokens:
        kind = token.kind
        prev = previous.kind if previous else None
        if kind in operand or kind in ("(", "not"):
            if prev in operand or prev == ")":
                raise _error("Parse error (missing and/or)", source, token.start, token.end)
        elif kind in ("and", "or", ")"):
            if prev is None or prev in ("and", "or", "not", "("):
                what = "Missing parenthesis" if kind == ")" and prev is None else "Parse error"
                raise _error(what, source, token.start, token.end)
        if kind == "(":
            depth += 1
            opened.append(token)
        elif kind == ")":
            depth -= 1
            if depth < 0:
                raise _error("Missing parenthesis", source, token.start, token.end)
            opened.pop()
        previous = token
    if previous is not None and previous.kind in ("and", "or", "not", "("):
        raise _error("Parse error", source, previous.start, previous.end)
    if opened:
        raise _error("Missing parenthesis", source, opened[-1].start, opened[-1].end)


def _function_hash(call: str, operator: str | None, value: str | None) -> dict[str, Any]:
    m = _FUNCTION.match(call)
    assert m is not None  # the scanner only emits matching calls
    params = m.group("params").strip()
    entry: dict[str, Any] = {"name": m.group("name"), "params": params[1:-1] if params else None}
    if m.group("output"):
        entry["value"] = m.group("output")
    if operator is None:
        raise FilterSyntaxError(f"Data function {call} needs a comparison, e.g. {call} = value")
    operator = {"=>": ">=", "=<": "<="}.get(operator, operator)
    if value is not None and len(value) > 1 and value.startswith("/") and value.endswith("/"):
        if operator not in ("=", "==", "=~", "!="):
            raise FilterSyntaxError(f"A regular expression can only be compared with = or != in {call}")
        try:
            entry["r_compare"] = re.compile(value[1:-1])
        except re.error as exc:
            raise FilterSyntaxError(f"invalid regular expression {value} in -S filter: {exc}") from None
        entry["operator"] = "!=~" if operator == "!=" else "=~"
    else:
        entry["r_compare"] = value
        entry["operator"] = "==" if operator in ("=", "==") else operator
        if entry["operator"] == "=~":
            raise FilterSyntaxError(f"Use = /regex/ to match a data function's value in {call}")
    return entry


def parse_compound(expression: str) -> list[dict[str, Any]]:
    """The call stack for a -S expression; FilterSyntaxError (one line) if malformed."""
    if len(expression) > _MAX_LENGTH:
        raise FilterSyntaxError(f"-S filter is longer than {_MAX_LENGTH} characters")
    tokens = _Scanner(expression).tokens()
    _check_grammar(expression, tokens)
    stack: list[dict[str, Any]] = []
    for token in tokens:
        if token.kind == "statement":
            statement = token.value
            if not (statement.startswith("/") and statement.endswith("/")) and any(
                    o in statement for o in ("=", "<", ">")):
                parse_fact_filter(statement)  # refuses bad fact names and regexes now
            elif statement.startswith("/"):
                if compile_regex(statement) is None:
                    raise FilterSyntaxError(f"invalid regular expression {statement} in -S filter")
            stack.append({"statement": statement})
        elif token.kind == "fstatement":
            call, operator, value = token.value if isinstance(token.value, tuple) else (token.value, None, None)
            stack.append({"fstatement": _function_hash(call, operator, value)})
        else:
            stack.append({token.kind: token.kind})
    return stack


def functions(callstack: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The data-function entries of a call stack."""
    return [entry["fstatement"] for entry in callstack
            if isinstance(entry, dict) and isinstance(entry.get("fstatement"), dict)]


def validate_functions(callstack: list[dict[str, Any]], config: "Config | None" = None) -> float:
    """Check each data function against its DDL before sending; returns the added timeout.

    Unknown plugins, bad query arguments and outputs the plugin does not have
    are refused on the client, as MCollective's message validation does.
    """
    from pymco.data.base import load_data_ddl, validate_query

    extra = 0.0
    for function in functions(callstack):
        name = function["name"]
        try:
            ddl = load_data_ddl(name, config)
        except DDLError:
            raise FilterSyntaxError(f"Data plugin '{name}()' used in -S is not known") from None
        try:
            validate_query(ddl, function.get("params"))
        except DDLValidationError as exc:
            raise FilterSyntaxError(f"Data plugin '{name}()': {exc}") from None
        output = function.get("value")
        if output is not None and output not in ddl.outputs:
            raise FilterSyntaxError(f"Data plugin '{name}()' does not return a '{output}' value")
        extra += ddl.timeout
    return extra


# ---------------------------------------------------------------- evaluation

class _Unknown(Exception):
    """A data function could not run: the whole compound term is false."""


def _statement_true(statement: str, node: NodeView) -> bool:
    if statement.startswith("/") or not any(o in statement for o in ("=", "<", ">")):
        return any(name_matches(statement, c) for c in node.classes())
    try:
        term = parse_fact_filter(statement)
    except FilterSyntaxError:
        return False
    return fact_matches(node.fact(term.fact), term.operator, term.value)


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": op.eq, "!=": op.ne, "<": op.lt, ">": op.gt, "<=": op.le, ">=": op.ge}


def _default_output(result: dict[str, Any]) -> str | None:
    """Which output `plugin('x') = v` (no `.output`) compares: `value`, else a sole output."""
    if "value" in result:
        return "value"
    return next(iter(result)) if len(result) == 1 else None


def _coerce(left: Any, right: Any) -> Any:
    """The right-hand side converted to the left's type, as MCollective does."""
    if isinstance(left, str):
        return text(right) if isinstance(right, (str, bytes)) else str(right)
    if isinstance(right, (str, bytes)):
        right = text(right).strip()
        if isinstance(left, bool):
            if right in ("true", "false"):
                return right == "true"
            raise ValueError(f"invalid boolean value: {right}")
        if isinstance(left, (int, float)):
            try:
                return int(right)
            except ValueError:
                return float(right)
    return right


def _fstatement_true(function: dict[str, Any], node: NodeView) -> bool:
    name, params = text(function.get("name")), function.get("params")
    params = text(params) if params is not None else None
    operator = text(function.get("operator")) or "=="
    if params is not None and "`" in params:
        return False
    try:
        result = node.data(name, params)
    except PymcoError as exc:
        log.debug("data plugin %s(%r) refused: %s", name, params, exc)
        raise _Unknown() from None
    if result is None:
        raise _Unknown()
    output = function.get("value")
    output = text(output) if output is not None else _default_output(result)
    left = result.get(output) if output is not None else None
    right = function.get("r_compare")
    if left is None:
        return False
    if operator in ("=~", "!=~"):
        if not isinstance(left, str):
            return False
        if isinstance(right, re.Pattern):
            pattern: re.Pattern[str] | None = right
        else:
            pattern = compile_regex(text(right)) if isinstance(right, (str, bytes)) else None
        if pattern is None:
            return False
        found = pattern.search(left) is not None
        return not found if operator == "!=~" else found
    if isinstance(left, (str, bool)) and operator in ("<", ">", "<=", ">="):
        return False
    compare = _COMPARE.get(operator)
    if compare is None:
        return False
    try:
        return bool(compare(left, _coerce(left, right)))
    except (TypeError, ValueError):
        return False


def _fold(values: list[Any]) -> bool:
    """Evaluate a flat list of bools and 'and'/'or'/'not'/'('/')' (precedence: not, and, or)."""
    pos = 0

    def chain(word: str, operand: Callable[[], bool]) -> bool:
        """operand (word operand)*; every operand is evaluated, the stack has no side effects."""
        nonlocal pos
        result = operand()
        while pos < len(values) and values[pos] == word:
            pos += 1
            right = operand()
            result = (result or right) if word == "or" else (result and right)
        return result

    def expression() -> bool:
        return chain("or", conjunction)

    def conjunction() -> bool:
        return chain("and", unary)

    def unary() -> bool:
        nonlocal pos
        if pos >= len(values):
            raise ValueError("unexpected end")
        item = values[pos]
        pos += 1
        if item == "not":
            return not unary()
        if item == "(":
            inner = expression()
            if pos >= len(values) or values[pos] != ")":
                raise ValueError("missing )")
            pos += 1
            return inner
        if isinstance(item, bool):
            return item
        raise ValueError(f"unexpected {item!r}")

    result = expression()
    if pos != len(values):
        raise ValueError("trailing tokens")
    return result


def evaluate(callstack: list[Any], node: NodeView) -> bool:
    """Whether a received call stack selects `node`; a malformed stack selects nothing."""
    if len(callstack) > _MAX_LENGTH:
        return False
    values: list[Any] = []
    try:
        for entry in callstack:
            if not isinstance(entry, dict) or len(entry) != 1:
                raise ValueError(f"bad call stack entry {entry!r:.60}")
            key, value = next(iter(entry.items()))
            key = text(key)
            if key == "statement":
                values.append(_statement_true(text(value), node))
            elif key == "fstatement" and isinstance(value, dict):
                values.append(_fstatement_true({text(k): v for k, v in value.items()}, node))
            elif key in ("and", "or", "not", "(", ")"):
                values.append(key)
            else:
                raise ValueError(f"unknown call stack entry {key!r:.40}")
        return _fold(values)
    except _Unknown:
        return False
    except (ValueError, RecursionError) as exc:
        log.info("ignoring a malformed compound filter: %s", exc)
        return False


def describe(callstack: list[dict[str, Any]]) -> list[str]:
    """Human-readable lines for `mco describe_filter`, as MCollective words them."""
    lines: list[str] = []
    indent = 0
    for entry in callstack:
        key, value = next(iter(entry.items()))
        pad = "  " * indent
        if key == "statement":
            if value.startswith("/") or not any(o in value for o in ("=", "<", ">")):
                lines.append(f"{pad}Check if class '{value}' is present on the host")
            else:
                term = parse_fact_filter(value)
                lines.append(f"{pad}Check if fact '{term.fact}' {term.operator} '{term.value}'")
        elif key == "fstatement":
            params = value.get("params")
            right = value.get("r_compare")
            right = f"/{right.pattern}/" if isinstance(right, re.Pattern) else right
            output = value.get("value")
            check = f"Check if the query's '{output}' value" if output else "Check if the query's value"
            with_params = f" with parameters ({params})" if params else ""
            lines.append(f"{pad}Execute the Data Query '{value['name']}'{with_params}. "
                         f"{check} {value['operator']} '{right}'")
        elif key == "(":
            lines.append(f"{pad}(")
            indent += 1
        elif key == ")":
            indent = max(0, indent - 1)
            lines.append(f"{'  ' * indent})")
        else:
            lines.append(f"{pad}{key.upper()}")
    return lines
