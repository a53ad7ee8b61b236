"""Ruby Marshal 4.8, the serialisation MCollective 2.12 puts on the wire.

Why our own codec rather than the `rubymarshal` package: the daemon decodes
every message anyone can publish, so the reader must be bounded (nesting
depth, declared sizes checked against the bytes actually present) and must not
keep global state (rubymarshal interns every Symbol it ever reads in a
class-level dict, which an attacker can grow without limit).  It is also on the
hot path of both the daemon and the client's reply loop, and an index-based
reader over `bytes` is several times faster than a file-object one.  The test
suite checks it byte for byte against rubymarshal and against Ruby itself.

Mapping:
    nil/true/false      None/True/False
    Fixnum/Bignum       int (written as Fixnum when -2**30 <= n < 2**30)
    Float               float
    String + :E ivar    str  (UTF-8 when E is true, US-ASCII when false)
    String, no ivar     bytes (ASCII-8BIT, e.g. the inner :body of a message)
    Symbol              Symbol (a str subclass, so dict lookups by str work)
    Array / Hash        list / dict
    Regexp              re.Pattern
    anything else       RubyObject(class_name, attributes) on read; refused on write
"""

from __future__ import annotations

import re
import struct
from typing import Any

from pymco.errors import DecodeError

__all__ = ["Symbol", "RubyObject", "dumps", "loads", "DEFAULT_MAX_DEPTH", "DEFAULT_MAX_NODES"]

DEFAULT_MAX_DEPTH = 64
# Object links ('@') let a few bytes name the same array many times over; a
# value may expand to at most this many values (or to its byte length, when
# larger), so whatever walks the result later walks a bounded structure.
DEFAULT_MAX_NODES = 1_000_000


class Symbol(str):
    """A Ruby Symbol.  Equal to (and hashes like) the str of its name."""

    __slots__ = ()

    def __repr__(self) -> str:
        return ":" + str.__str__(self)


class RubyObject:
    """An object of a Ruby class with no Python mapping (kept, never executed)."""

    __slots__ = ("class_name", "attributes")

    def __init__(self, class_name: str, attributes: Any) -> None:
        self.class_name = class_name
        self.attributes = attributes

    def __repr__(self) -> str:
        return f"RubyObject({self.class_name!r}, {self.attributes!r})"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, RubyObject) and other.class_name == self.class_name
                and other.attributes == self.attributes)

    __hash__ = None  # type: ignore[assignment]


# ---------------------------------------------------------------- writing

_E = Symbol("E")
_FIXMIN, _FIXMAX = -(2 ** 30), 2 ** 30


_SHORT_LONGS = [b"\x00"] + [bytes((n + 5,)) for n in range(1, 123)]


def _long(n: int) -> bytes:
    """Marshal's variable-length integer encoding."""
    if 0 <= n < 123:
        return _SHORT_LONGS[n]
    if -124 < n < 0:
        return bytes(((n - 5) & 0xFF,))
    out = bytearray()
    for size in range(1, 5):
        out.append(n & 0xFF)
        n >>= 8
        if n == 0 or n == -1:
            if n == -1:
                return bytes(((-size) & 0xFF,)) + bytes(out)
            return bytes((size,)) + bytes(out)
    raise ValueError("integer too large for a Marshal long")


class _Writer:
    __slots__ = ("out", "symbols", "e_tail")

    def __init__(self) -> None:
        self.out = bytearray(b"\x04\x08")
        self.symbols: dict[str, int] = {}
        self.e_tail: bytes | None = None  # a string's `:E => true` once :E has been written

    def symbol(self, name: str) -> None:
        idx = self.symbols.get(name)
        out = self.out
        if idx is not None:
            out += b";"
            out += _long(idx)
            return
        self.symbols[name] = len(self.symbols)
        raw = name.encode("utf-8")
        out += b":"
        out += _long(len(raw))
        out += raw

    def write(self, obj: Any) -> None:
        out = self.out
        t = type(obj)
        if t is str:
            raw = obj.encode("utf-8")
            out += b'I"'
            out += _long(len(raw))
            out += raw
            tail = self.e_tail
            if tail is None:
                out += b"\x06"
                self.symbol(_E)
                out += b"T"
                self.e_tail = b"\x06;" + _long(self.symbols[_E]) + b"T"
            else:
                out += tail
        elif t is Symbol:
            self.symbol(obj)
        elif obj is None:
            out += b"0"
        elif obj is True:
            out += b"T"
        elif obj is False:
            out += b"F"
        elif t is int:
            if _FIXMIN <= obj < _FIXMAX:
                out += b"i"
                out += _long(obj)
            else:
                self.bignum(obj)
        elif t is dict:
            out += b"{"
            out += _long(len(obj))
            for k, v in obj.items():
                self.write(k)
                self.write(v)
        elif t is list or t is tuple:
            out += b"["
            out += _long(len(obj))
            for v in obj:
                self.write(v)
        elif t is bytes or t is bytearray:
            out += b'"'
            out += _long(len(obj))
            out += obj
        elif t is float:
            self.float(obj)
        elif isinstance(obj, re.Pattern):
            raw = obj.pattern.encode("utf-8") if isinstance(obj.pattern, str) else obj.pattern
            flags = (1 if obj.flags & re.IGNORECASE else 0) | (4 if obj.flags & re.DOTALL else 0)
            out += b"I/"
            out += _long(len(raw))
            out += raw
            out.append(flags)
            out += b"\x06"
            self.symbol(_E)
            out += b"F"
        elif isinstance(obj, str):  # other str subclasses behave as strings
            self.write(str(obj))
        elif isinstance(obj, dict):
            self.write(dict(obj))
        elif isinstance(obj, bool):
            self.write(bool(obj))
        elif isinstance(obj, int):
            self.write(int(obj))
        elif isinstance(obj, float):
            self.write(float(obj))
        elif isinstance(obj, (list, tuple, set, frozenset)):
            self.write(list(obj))
        else:
            raise TypeError(f"cannot marshal {t.__name__}")

    def bignum(self, n: int) -> None:
        out = self.out
        out += b"l+" if n >= 0 else b"l-"
        n = abs(n)
        raw = n.to_bytes((n.bit_length() + 15) // 16 * 2, "little")
        out += _long(len(raw) // 2)
        out += raw

    def float(self, f: float) -> None:
        if f != f:
            text = b"nan"
        elif f in (float("inf"), float("-inf")):
            text = b"inf" if f > 0 else b"-inf"
        elif f == int(f) and abs(f) < 1e16:
            text = b"%d" % int(f)
            if f == 0 and str(f).startswith("-"):
                text = b"-0"
        else:
            text = repr(f).encode("ascii")
        out = self.out
        out += b"f"
        out += _long(len(text))
        out += text


def dumps(obj: Any) -> bytes:
    """Serialise `obj` as Ruby's Marshal.dump would (without object links)."""
    writer = _Writer()
    writer.write(obj)
    return bytes(writer.out)


# ---------------------------------------------------------------- reading

_U16 = struct.Struct("<H")

_NOT_SHORT = object()

# Symbols every MCollective message carries, made once (a fixed table: nothing
# a sender writes can grow it).
_KNOWN_SYMBOLS: dict[bytes, Symbol] = {name.encode(): Symbol(name) for name in (
    "E", "body", "senderid", "requestid", "filter", "collective", "agent", "callerid", "ttl", "msgtime", "hash",
    "senderagent", "statuscode", "statusmsg", "data", "action", "caller", "process_results", "fact", "value",
    "operator", "pong")}


class _Reader:
    __slots__ = ("data", "pos", "end", "symbols", "objects", "weights", "max_depth", "nodes", "max_nodes")

    def __init__(self, data: bytes, max_depth: int, max_nodes: int = DEFAULT_MAX_NODES) -> None:
        self.data = data
        self.pos = 2
        self.end = len(data)
        self.symbols: list[Symbol] = []
        self.objects: list[Any] = []
        self.weights: list[int | None] = []  # values each object expands to; None while it is being read
        self.max_depth = max_depth
        self.nodes = 0
        self.max_nodes = max(max_nodes, self.end)

    def fail(self, why: str) -> DecodeError:
        return DecodeError(f"invalid Marshal data at byte {self.pos}: {why}")

    def byte(self) -> int:
        pos = self.pos
        if pos >= self.end:
            raise self.fail("truncated")
        self.pos = pos + 1
        return self.data[pos]

    def long(self) -> int:
        pos = self.pos
        if pos >= self.end:
            raise self.fail("truncated")
        self.pos = pos + 1
        c = self.data[pos]
        if c == 0:
            return 0
        if c < 128:
            if c > 4:
                return c - 5
            raw = self.take(c)
            return int.from_bytes(raw, "little")
        c -= 256
        if c < -4:
            return c + 5
        size = -c
        raw = self.take(size)
        return int.from_bytes(raw, "little") - (1 << (8 * size))

    def take(self, n: int) -> bytes:
        pos = self.pos
        if n < 0 or pos + n > self.end:
            raise self.fail("declared length exceeds the data")
        self.pos = pos + n
        return self.data[pos:pos + n]

    def count(self) -> int:
        pos = self.pos
        if pos < self.end:
            c = self.data[pos]
            if 5 <= c < 128:  # the one-byte form, as nearly every length and count is
                self.pos = pos + 1
                n = c - 5
                if n > self.end - pos - 1:
                    raise self.fail("declared element count exceeds the data")
                return n
        n = self.long()
        if n < 0 or n > self.end - self.pos:
            raise self.fail("declared element count exceeds the data")
        return n

    def symbol_body(self) -> Symbol:
        raw = self.take(self.count())
        sym = _KNOWN_SYMBOLS.get(raw)
        if sym is None:
            try:
                sym = Symbol(raw.decode("utf-8"))
            except UnicodeDecodeError:
                raise self.fail("symbol is not UTF-8") from None
        self.symbols.append(sym)
        return sym

    def any_symbol(self) -> Symbol:
        c = self.byte()
        if c == 0x3A:  # ':'
            return self.symbol_body()
        if c == 0x3B:  # ';'
            return self.symlink()
        if c == 0x49:  # 'I' symbol with encoding ivars
            sym = self.any_symbol()
            self.ivars(depth=self.max_depth - 1)
            return sym
        raise self.fail("expected a symbol")

    def symlink(self) -> Symbol:
        idx = self.long()
        if not 0 <= idx < len(self.symbols):
            raise self.fail("bad symbol link")
        return self.symbols[idx]

    def ivars(self, depth: int) -> dict[str, Any]:
        attrs: dict[str, Any] = {}
        for _ in range(self.count()):
            key = self.any_symbol()
            attrs[key] = self.read(depth)
        return attrs

    def short_string(self, pos: int) -> Any:
        """`I"` + a one-byte length + bytes + `:E` (or a link to it) T/F, read in one go.

        Most of a message is such strings (keys, identities, request ids); any
        other shape returns _NOT_SHORT with nothing consumed, for the general path.
        """
        data, end = self.data, self.end
        if pos + 1 >= end or data[pos] != 0x22:
            return _NOT_SHORT
        n = data[pos + 1] - 5
        if not 0 <= n < 123:
            return _NOT_SHORT
        start = pos + 2
        stop = start + n
        if stop + 3 >= end or data[stop] != 0x06:
            return _NOT_SHORT
        kind = data[stop + 1]
        if kind == 0x3B:  # ';' a link to E
            link = data[stop + 2]
            index = 0 if link == 0 else link - 5
            symbols = self.symbols
            if not 0 <= index < len(symbols) or link > 127 or symbols[index] != "E":
                return _NOT_SHORT
            flag = data[stop + 3]
            after = stop + 4
            new_symbol = False
        elif kind == 0x3A:  # ':' E itself, first seen
            if stop + 4 >= end or data[stop + 2] != 0x06 or data[stop + 3] != 0x45:
                return _NOT_SHORT
            flag = data[stop + 4]
            after = stop + 5
            new_symbol = True
        else:
            return _NOT_SHORT
        if flag == 0x54:
            try:
                value: str | bytes = data[start:stop].decode("utf-8")
            except UnicodeDecodeError:
                value = data[start:stop]
        elif flag == 0x46:
            value = data[start:stop].decode("latin-1")
        else:
            return _NOT_SHORT
        if new_symbol:
            self.symbols.append(_E)
        self.objects.append(value)
        self.weights.append(1)
        self.pos = after
        return value

    def encoding_flag(self, raw: bytes) -> str | bytes | None:
        """The common case read in one go: exactly one ivar, `:E` (or a link to it) set to T or F.

        Returns the decoded string, or None (nothing consumed) for any other shape.
        """
        data, pos, end = self.data, self.pos, self.end
        if pos + 3 >= end or data[pos] != 0x06:
            return None
        kind = data[pos + 1]
        if kind == 0x3A:  # ':' a new symbol, which must be E
            if data[pos + 2] != 0x06 or data[pos + 3] != 0x45 or pos + 4 >= end:
                return None
            flag = data[pos + 4]
            after = pos + 5
            new_symbol = True
        elif kind == 0x3B:  # ';' a link to E, read before
            link = data[pos + 2]
            if link == 0:
                index = 0
            elif 5 <= link < 128:
                index = link - 5
            else:
                return None
            if index >= len(self.symbols) or self.symbols[index] != "E":
                return None
            flag = data[pos + 3]
            after = pos + 4
            new_symbol = False
        else:
            return None
        if flag == 0x54:  # T: UTF-8
            try:
                value: str | bytes = raw.decode("utf-8")
            except UnicodeDecodeError:
                value = raw
        elif flag == 0x46:  # F: US-ASCII, read as latin-1 so any byte survives
            value = raw.decode("latin-1")
        else:
            return None
        if new_symbol:
            self.symbols.append(_E)
        self.pos = after
        return value

    def register(self, obj: Any, weight: int | None = 1) -> int:
        """Remember an object for '@' links; weight None while its contents are still being read."""
        self.objects.append(obj)
        self.weights.append(weight)
        return len(self.objects) - 1

    def done(self, idx: int, start: int) -> None:
        """An object's contents are read: it weighs what was counted since `start`."""
        self.weights[idx] = self.nodes - start + 1

    def read(self, depth: int = 0) -> Any:
        if depth > self.max_depth:
            raise self.fail("nesting deeper than %d" % self.max_depth)
        pos = self.pos
        if pos >= self.end:
            raise self.fail("truncated")
        self.pos = pos + 1
        c = self.data[pos]
        if c == 0x49:  # 'I': object followed by instance variables
            value = self.short_string(pos + 1)
            if value is not _NOT_SHORT:
                return value
            return self.read_ivar(depth)
        if c == 0x30:
            return None
        if c == 0x54:
            return True
        if c == 0x46:
            return False
        if c == 0x69:  # 'i'
            return self.long()
        if c == 0x3A:
            return self.symbol_body()
        if c == 0x3B:
            return self.symlink()
        if c == 0x22:  # '"' binary string
            raw = self.take(self.count())
            self.register(raw)
            return raw
        if c == 0x7B or c == 0x7D:  # '{' hash, '}' hash with default
            result: dict[Any, Any] = {}
            idx = self.register(result, None)
            start = self.nodes
            depth += 1
            n = self.count()
            self.nodes += 2 * n
            data, end = self.data, self.end
            fast = depth <= self.max_depth  # else read() raises for the nesting, as it must
            for _ in range(n):
                pos = self.pos
                kind = data[pos] if fast and pos < end else -1
                if kind == 0x3A:  # the usual key, a Symbol, read without a read() call
                    self.pos = pos + 1
                    key = self.symbol_body()
                elif kind == 0x3B:
                    self.pos = pos + 1
                    key = self.symlink()
                else:
                    key = self.read(depth)
                    if isinstance(key, (list, dict)):
                        key = _freeze(key)
                pos = self.pos
                value = self.short_string(pos + 1) if fast and pos < end and data[pos] == 0x49 else _NOT_SHORT
                if value is _NOT_SHORT:
                    value = self.read(depth)
                try:
                    result[key] = value
                except TypeError:
                    raise self.fail("unhashable hash key") from None
            if c == 0x7D:
                self.read(depth)  # the default value; dropped
            self.objects[idx] = result
            self.done(idx, start)
            return result
        if c == 0x5B:  # '['
            items: list[Any] = []
            idx = self.register(items, None)
            start = self.nodes
            depth += 1
            n = self.count()
            self.nodes += n
            for _ in range(n):
                items.append(self.read(depth))
            self.done(idx, start)
            return items
        if c == 0x40:  # '@' object link
            idx = self.long()
            if not 0 <= idx < len(self.objects):
                raise self.fail("bad object link")
            weight = self.weights[idx]
            if weight is None:
                raise self.fail("object link into an object being read (a cycle)")
            self.nodes += weight
            if self.nodes > self.max_nodes:
                raise self.fail("object links expand it to more than %d values" % self.max_nodes)
            return self.objects[idx]
        if c == 0x66:  # 'f'
            text = self.take(self.count())
            value = _parse_float(text)
            if value is None:
                raise self.fail("bad float")
            self.register(value)
            return value
        if c == 0x6C:  # 'l' bignum
            sign = self.byte()
            raw = self.take(self.count() * 2)
            value = int.from_bytes(raw, "little")
            if sign == 0x2D:
                value = -value
            self.register(value)
            return value
        if c == 0x2F:  # '/' regexp without ivars
            return self.read_regexp({})
        if c == 0x6F:  # 'o' object
            idx = self.register(None, None)
            start = self.nodes
            name = self.any_symbol()
            obj = RubyObject(name, self.ivars(depth + 1))
            self.objects[idx] = obj
            self.done(idx, start)
            return obj
        if c == 0x53:  # 'S' struct
            idx = self.register(None, None)
            start = self.nodes
            name = self.any_symbol()
            members = {}
            for _ in range(self.count()):
                key = self.any_symbol()
                members[key] = self.read(depth + 1)
            obj = RubyObject(name, members)
            self.objects[idx] = obj
            self.done(idx, start)
            return obj
        if c == 0x75:  # 'u' user-defined _dump
            idx = self.register(None)
            name = self.any_symbol()
            obj = RubyObject(name, self.take(self.count()))
            self.objects[idx] = obj
            return obj
        if c == 0x55:  # 'U' marshal_dump
            idx = self.register(None, None)
            start = self.nodes
            name = self.any_symbol()
            obj = RubyObject(name, self.read(depth + 1))
            self.objects[idx] = obj
            self.done(idx, start)
            return obj
        if c == 0x43:  # 'C' user subclass of String/Array/Hash/Regexp
            self.any_symbol()
            return self.read(depth + 1)
        if c == 0x65:  # 'e' extended by a module
            self.any_symbol()
            return self.read(depth + 1)
        if c in (0x63, 0x6D, 0x4D):  # class / module references
            name = self.take(self.count())
            obj = RubyObject("Class", name.decode("utf-8", "replace"))
            self.register(obj)
            return obj
        raise self.fail("unsupported type byte %r" % chr(c))

    def read_ivar(self, depth: int) -> Any:
        c = self.byte()
        if c == 0x22:  # string with encoding
            idx = self.register(None, None)
            raw = self.take(self.count())
            value = self.encoding_flag(raw)
            if value is not None:
                self.objects[idx] = value
                self.weights[idx] = 1
                return value
            attrs = self.ivars(depth + 1)
            value = _decode_string(raw, attrs)
            self.objects[idx] = value
            self.weights[idx] = 1
            return value
        if c == 0x2F:
            return self.read_regexp(None, depth)
        # Any other object with ivars: read it, then drop the ivars.
        self.pos -= 1
        value = self.read(depth + 1)
        self.ivars(depth + 1)
        return value

    def read_regexp(self, attrs: dict | None, depth: int = 0) -> Any:
        idx = self.register(None, None)
        raw = self.take(self.count())
        options = self.byte()
        if attrs is None:
            self.ivars(depth + 1)
        # Ruby's ^ and $ always match at line boundaries, hence MULTILINE.
        flags = re.MULTILINE | (re.IGNORECASE if options & 1 else 0) | (re.DOTALL if options & 4 else 0)
        source = raw.decode("utf-8", "replace")
        try:
            value: Any = re.compile(_ruby_regex_to_python(source), flags)
        except re.error:
            value = RubyObject("Regexp", source)
        self.objects[idx] = value
        self.weights[idx] = 1
        return value


def _decode_string(raw: bytes, attrs: dict[str, Any]) -> str | bytes:
    enc = attrs.get("E")
    try:
        if enc is True:
            return raw.decode("utf-8")
        if enc is False:
            return raw.decode("latin-1")
        name = attrs.get("encoding")
        if name is not None:
            name = name.decode("ascii", "replace") if isinstance(name, bytes) else str(name)
            return raw.decode(name)
    except (UnicodeDecodeError, LookupError):
        return raw
    return raw


def _parse_float(text: bytes) -> float | None:
    head = text.split(b"\x00", 1)[0]
    try:
        return float(head.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return None


_RUBY_ANCHORS = re.compile(r"\\[Az]|\\h|\(\?<(?![=!])")


def _ruby_regex_to_python(source: str) -> str:
    """Translate the few Ruby-only regex escapes MCollective users write."""
    def sub(m: re.Match[str]) -> str:
        tok = m.group(0)
        return {"\\A": "\\A", "\\z": "\\Z", "\\h": "[0-9a-fA-F]"}.get(tok, "(?P<")
    return _RUBY_ANCHORS.sub(sub, source)


def _freeze(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple((k, _freeze(v)) for k, v in value.items())
    return value


def loads(data: bytes, max_depth: int = DEFAULT_MAX_DEPTH, max_nodes: int = DEFAULT_MAX_NODES) -> Any:
    """Decode one Marshal 4.8 value; raise DecodeError on anything malformed.

    Declared lengths are checked against the bytes present before anything is
    allocated, so memory use is bounded by the input size; `max_depth` bounds
    recursion; object links may not form cycles, nor expand the value past
    `max_nodes` values (or its byte length when larger), so walking the
    result is bounded too.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise DecodeError("Marshal data must be bytes")
    data = bytes(data)
    if len(data) < 3 or data[0] != 4 or data[1] != 8:
        raise DecodeError("not Ruby Marshal 4.8 data")
    reader = _Reader(data, max_depth, max_nodes)
    try:
        value = reader.read()
    except RecursionError:
        raise DecodeError("invalid Marshal data: nesting too deep") from None
    if reader.pos != reader.end:
        raise DecodeError(f"invalid Marshal data: {reader.end - reader.pos} trailing bytes")
    return value
