"""A small subset of LEQL: enough to filter events and count them like the real service.

Supported: `where(<expr>[, loose])`, `calculate(count)` and, after it, `timeslice(N)` for N
timeseries buckets instead of the default ten; where and calculate may each come alone.
`<expr>` combines with AND/OR/NOT and parentheses: `/regex/` (flag `i`), `key=value`,
`key!=value`, `key=/regex/i`, numeric `key > n` (`>= < <=`), and plain keywords (substring
search).
Keys are read from JSON messages (nested keys joined with `.`) or key=value messages.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import orjson

_TOKEN = re.compile(
    r"""
    \s*(?:
      (?P<regex>/(?:[^/\\]|\\.)*/[a-z]*)
    | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    | (?P<op>!=|>=|<=|=|>|<|\(|\)|,)
    | (?P<word>[^\s()=!<>,"'/]+)
    )""",
    re.VERBOSE,
)
_KVP = re.compile(r'([A-Za-z_][\w.\-]*)=("(?:[^"\\]|\\.)*"|[^\s"]*)')
_MATCH_ALL_REGEXES = {"", ".*"}
_DIGITS = re.compile(r"[0-9]+")
_ORDERINGS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


class LeqlError(ValueError):
    """The statement is not in the supported LEQL subset."""


class Subject:
    """One message under test; its key/value fields are parsed at most once, on demand."""

    __slots__ = ("__dict__", "message")

    def __init__(self, message: str) -> None:
        self.message = message

    @cached_property
    def fields(self) -> dict[str, object]:
        return extract_fields(self.message)


Predicate = Callable[[Subject], bool]


def extract_fields(message: str) -> dict[str, object]:
    """Keys of a JSON object message (nested keys dotted) or of a key=value message."""
    if message.startswith("{"):
        try:
            parsed = orjson.loads(message)
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            flat: dict[str, object] = {}
            _flatten(parsed, "", flat)
            return flat
    return {key: _unquote(value) for key, value in _KVP.findall(message)}


def _flatten(obj: dict[str, object], prefix: str, into: dict[str, object]) -> None:
    for key, value in obj.items():
        name = prefix + key
        if isinstance(value, dict):
            _flatten(value, name + ".", into)
        else:
            into[name] = value


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1].replace('\\"', '"')
    return value


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed statement: `predicate` None means every event matches."""

    statement: str
    predicate: Predicate | None
    calculate: str | None
    timeslice: int | None = None  # buckets asked for by timeslice(N); None: the default

    @property
    def is_statistical(self) -> bool:
        return self.calculate is not None

    def matches(self, message: str) -> bool:
        return self.predicate is None or self.predicate(Subject(message))


@dataclass(slots=True)
class _Token:
    kind: str
    text: str


def _tokens(text: str) -> list[_Token]:
    tokens = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise LeqlError(f"unexpected character {text[position:].strip()[:1]!r} at {position}")
        kind = match.lastgroup or "word"
        tokens.append(_Token(kind, match.group(kind)))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.position = 0
        self.loose = False

    def peek(self) -> _Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def next(self) -> _Token:
        token = self.peek()
        if token is None:
            raise LeqlError("unexpected end of statement")
        self.position += 1
        return token

    def expect(self, text: str) -> None:
        token = self.next()
        if token.text != text:
            raise LeqlError(f"expected {text!r}, found {token.text!r}")

    def at_text(self, text: str) -> bool:
        token = self.peek()
        return token is not None and token.text == text

    def at_word(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "word" and token.text.upper() in words

    def statement(self) -> tuple[Predicate | None, str | None, int | None]:
        predicate: Predicate | None = None
        calculate = timeslice = None
        if self.at_word("WHERE"):
            self.next()
            self.expect("(")
            predicate = self.expression()
            if self.at_text(","):
                self.next()
                if not self.at_word("LOOSE"):
                    raise LeqlError("only `loose` may follow a comma in where()")
                self.next()
            self.expect(")")
        if self.at_word("CALCULATE"):
            self.next()
            self.expect("(")
            function = self.next()
            if function.kind != "word" or function.text.split(":")[0].lower() != "count":
                raise LeqlError(f"calculate({function.text}) is not supported; only count")
            self.expect(")")
            calculate = "count"
            if self.at_word("TIMESLICE"):
                timeslice = self.timeslice()
        token = self.peek()
        if token is not None and token.text.upper() == "TIMESLICE" and calculate is None:
            # [INF] Time slices only shape a calculation's timeseries; whether the service
            # ignores them on a plain where() or refuses them is unknown, so refuse them.
            raise LeqlError("timeslice() needs a calculation before it, e.g. calculate(count)")
        if token is not None:
            raise LeqlError(f"unsupported clause starting at {token.text!r}")
        return predicate, calculate, timeslice

    def timeslice(self) -> int:
        self.next()
        self.expect("(")
        count = self.next()
        if count.kind != "word" or not _DIGITS.fullmatch(count.text) or int(count.text) < 1:
            text = "" if count.text == ")" else count.text
            raise LeqlError(f"timeslice({text}): the bucket count must be a positive integer")
        self.expect(")")
        return int(count.text)

    def expression(self) -> Predicate:
        terms = [self.conjunction()]
        while self.at_word("OR"):
            self.next()
            terms.append(self.conjunction())
        return terms[0] if len(terms) == 1 else _any(terms)

    def conjunction(self) -> Predicate:
        terms = [self.unary()]
        while self.at_word("AND"):
            self.next()
            terms.append(self.unary())
        return terms[0] if len(terms) == 1 else _all(terms)

    def unary(self) -> Predicate:
        if self.at_word("NOT"):
            self.next()
            inner = self.unary()
            return lambda subject: not inner(subject)
        return self.primary()

    def primary(self) -> Predicate:
        token = self.next()
        if token.text == "(" and token.kind == "op":
            inner = self.expression()
            self.expect(")")
            return inner
        if token.kind == "regex":
            return _regex_search(_compile(token.text))
        if token.kind not in ("word", "string"):
            raise LeqlError(f"unexpected {token.text!r}")
        name = _literal(token)
        operator = self.peek()
        if operator is None or operator.kind != "op" or operator.text in ("(", ")", ","):
            return self.keyword(name)
        self.next()
        return _comparison(name, operator.text, self.next())

    def keyword(self, word: str) -> Predicate:
        if self.loose:
            lowered = word.lower()
            return lambda subject: lowered in subject.message.lower()
        return lambda subject: word in subject.message


def _literal(token: _Token) -> str:
    if token.kind == "string":
        return re.sub(r"\\(.)", r"\1", token.text[1:-1])
    return token.text


def _compile(literal: str) -> re.Pattern[str]:
    body, _, flags = literal[1:].rpartition("/")
    if set(flags) - {"i"}:
        raise LeqlError(f"unsupported regex flags {flags!r}")
    try:
        return re.compile(body, re.IGNORECASE if "i" in flags else 0)
    except re.error as error:
        raise LeqlError(f"invalid regex {literal}: {error}") from None


def _regex_search(pattern: re.Pattern[str]) -> Predicate:
    search = pattern.search
    return lambda subject: search(subject.message) is not None


def _comparison(key: str, op: str, value_token: _Token) -> Predicate:
    if value_token.kind == "regex":
        if op not in ("=", "!="):
            raise LeqlError(f"a regex can only be compared with = or !=, not {op}")
        search = _compile(value_token.text).search
        matches: Callable[[object], bool] = lambda value: search(_text(value)) is not None  # noqa: E731
        return _field_test(key, matches if op == "=" else lambda v: not matches(v))
    if value_token.kind not in ("word", "string"):
        raise LeqlError(f"expected a value after {key}{op}")
    expected = _literal(value_token)
    if op == "=":
        return _field_test(key, lambda value: _text(value) == expected)
    if op == "!=":
        return _field_test(key, lambda value: _text(value) != expected)
    bound = _number(expected)
    if bound is None:
        raise LeqlError(f"{key}{op}{expected}: a numeric comparison needs a number")
    compare = _ORDERINGS[op]

    def numeric(value: object) -> bool:
        number = _number(value)
        return number is not None and compare(number, bound)

    return _field_test(key, numeric)


def _field_test(key: str, test: Callable[[object], bool]) -> Predicate:
    """An event without the key never matches, whatever the operator (also for `!=`)."""
    missing = object()

    def predicate(subject: Subject) -> bool:
        value = subject.fields.get(key, missing)
        return value is not missing and test(value)

    return predicate


def _any(terms: list[Predicate]) -> Predicate:
    return lambda subject: any(term(subject) for term in terms)


def _all(terms: list[Predicate]) -> Predicate:
    return lambda subject: all(term(subject) for term in terms)


def _is_match_all(tokens: list[_Token]) -> bool:
    """`where(/.*/)`, Rapid7's own "all events" statement, needs no scanning."""
    texts = [t.text for t in tokens]
    return (
        len(texts) == 4
        and texts[0].lower() == "where"
        and tokens[2].kind == "regex"
        and texts[2][1:].rpartition("/")[0] in _MATCH_ALL_REGEXES
    )


def parse(statement: str | None, *, max_timeslice: int | None = None) -> Query:
    """Parse a statement; a missing or blank one selects every event.

    `max_timeslice` is the most buckets a `timeslice(N)` may ask for (None: no limit).
    """
    text = (statement or "").strip()
    if not text:
        return Query("where(/.*/)", None, None)
    tokens = _tokens(text)
    if _is_match_all(tokens):
        return Query(text, None, None)
    parser = _Parser(tokens)
    loose_index = _loose_position(tokens)
    parser.loose = loose_index is not None
    predicate, calculate, timeslice = parser.statement()
    if max_timeslice is not None and timeslice is not None and timeslice > max_timeslice:
        raise LeqlError(f"timeslice({timeslice}) asks for more than {max_timeslice} buckets")
    if predicate is not None and _is_match_all(tokens[:4]) and len(tokens) > 4:
        predicate = None  # where(/.*/) calculate(count)
    return Query(text, predicate, calculate, timeslice)


def _loose_position(tokens: list[_Token]) -> int | None:
    for index, token in enumerate(tokens):
        is_loose = token.kind == "word" and token.text.lower() == "loose"
        if is_loose and index > 0 and tokens[index - 1].text == ",":
            return index
    return None
