r"""Parser for Falco's condition language: text -> syntax tree (sensor/compile/ast.py).

Grammar (EBNF; `blank` is any of space, tab, newline, CR, backspace, FF, VT;
blanks may appear between any two tokens):

    Expr        ::= OrExpr
    OrExpr      ::= AndExpr ( 'or' Sep AndExpr )*
    AndExpr     ::= NotExpr ( 'and' Sep NotExpr )*
    Sep         ::= blank | &'('                    -- 'or'/'and' end at a blank or '('
    NotExpr     ::= ( 'not' blank )* ( 'not(' Expr ')' | Check )
    Check       ::= '(' Expr ')'
                  | FieldExpr Condition
                  | Identifier                       -- a macro reference
    FieldExpr   ::= Transformer '(' FieldExpr ')' | Field
    Field       ::= FieldName ( '[' ( QuotedStr | ArgBareStr ) ']' )?
    Condition   ::= UnaryOp
                  | NumOp ( RightField | HexNumber | Number )
                  | StrOp ( RightField | QuotedStr | BareStr )
                  | ListOp ( '(' ( Item ( ',' Item )* )? ')' | RightField | Identifier )
    Item        ::= QuotedStr | BareStr
    RightField  ::= 'val(' Field ')' | Transformer '(' FieldExpr ')'

    UnaryOp     ::= 'exists'
    NumOp       ::= '<=' | '<' | '>=' | '>'
    StrOp       ::= '==' | '=' | '!=' | 'glob' | 'iglob' | 'contains' | 'icontains'
                  | 'bcontains' | 'startswith' | 'bstartswith' | 'endswith' | 'regex'
    ListOp      ::= 'intersects' | 'in' | 'pmatch'
    Transformer ::= 'tolower' | 'toupper' | 'b64' | 'basename' | 'len'

    Identifier  ::= [a-zA-Z][a-zA-Z0-9_]*
    FieldName   ::= Identifier ( '.' Identifier )+
    ArgBareStr  ::= [^][\"'blank]+
    HexNumber   ::= 0[xX][0-9a-zA-Z]+
    Number      ::= [+-]?[0-9]+\.?[0-9]*([eE][+-][0-9]+)?
    QuotedStr   ::= '"' ( '\\' any | [^"\\] )* '"' | "'" ( '\\' any | [^'\\] )* "'"
    BareStr     ::= [^()\"'=,blank]+

Precedence: not > and > or; 'and'/'or' chains are n-ary nodes, pairs of 'not'
cancel (as in Falco).  A word operator (contains, in, exists, ...) must end at
a non-identifier character; Falco requires a plain space after some of them,
this parser accepts any blank, so a condition stays valid when its spaces
become tabs or newlines.  Quoted strings take Falco's escapes (\\b \\f \\n \\r
\\t \\\\ \\/ and the quote itself); the text of a quoted or bare string is always a
plain value: nothing in it is ever interpreted further.

Errors raise `ParseError` with Falco's message and the offset where parsing
stopped.  Nesting is capped at MAX_DEPTH, so hostile input gets a clear error
instead of Python's RecursionError.
"""
from __future__ import annotations

import re

from .ast import (NO_SOURCE, And, Compare, Expr, FieldRef, FieldValue, Ident, Literal, Not, Or,
                  SourceRef, Value, ValueList)

MAX_DEPTH = 100

BLANKS = " \t\b\r\n\f\v"
_IDENT = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)+")
_ARG_BARE = re.compile(r"[^\[\]\"'\s\b]+")
_HEX = re.compile(r"0[xX][0-9a-zA-Z]+")
_NUMBER = re.compile(r"[+-]?[0-9]+\.?[0-9]*(?:[eE][+-][0-9]+)?")
_BARE = re.compile(r"[^()\"'=,\s\b]+")
_WORD = re.compile(r"[A-Za-z0-9_]+")
_NOT_BLANK = re.compile("not[" + re.escape(BLANKS) + "]+")

UNARY_OPS = ("exists",)
NUM_OPS = ("<=", "<", ">=", ">")
STR_SYMBOL_OPS = ("==", "=", "!=")
STR_WORD_OPS = ("glob", "iglob", "contains", "icontains", "bcontains", "startswith",
                "bstartswith", "endswith", "regex")
LIST_OPS = ("intersects", "in", "pmatch")
TRANSFORMERS = ("tolower", "toupper", "b64", "basename", "len")

_ALL_OPS = UNARY_OPS + NUM_OPS + STR_SYMBOL_OPS + STR_WORD_OPS + LIST_OPS
_RIGHT_FIELD_FORMS = ("val",) + TRANSFORMERS


def _quoted_names(names) -> str:
    return ", ".join(f"'{n}'" for n in names)


_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "\\": "\\", "/": "/",
            # Falco reads "\ " as a lone backslash (kept for rules written that way).
            " ": "\\"}


class ParseError(Exception):
    """A condition that does not parse: Falco's message and the offset where parsing stopped."""

    def __init__(self, message: str, offset: int):
        super().__init__(message, offset)
        self.message = message
        self.offset = offset

    def __str__(self) -> str:
        return self.message


def unescape(body: str, quote: str) -> str:
    """The value of a quoted string whose text between the quotes is `body`."""
    out = []
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\" or i + 1 >= len(body):
            out.append(c)
            i += 1
            continue
        e = body[i + 1]
        if e in _ESCAPES:
            out.append(_ESCAPES[e])
        elif e in "\"'":
            if e != quote:
                raise ValueError(f"invalid \\{e} escape in {quote}-quoted string")
            out.append(e)
        else:
            raise ValueError(f"unsupported string escape sequence: \\{e}")
        i += 2
    return "".join(out)


def is_bare(text: str) -> bool:
    """True if `text` can be written without quotes as a value."""
    return bool(text) and _BARE.fullmatch(text) is not None


class _Parser:
    def __init__(self, text: str, src: SourceRef):
        self.text = text
        self.src = src
        self.pos = 0
        self.depth = 0
        self.last_token = ""

    # ---------------------------------------------------------------- lexing

    def error(self, message: str, offset: int | None = None) -> ParseError:
        return ParseError(message, self.pos if offset is None else offset)

    def skip_blanks(self) -> bool:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] in BLANKS:
            self.pos += 1
        return self.pos > start

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self, s: str) -> bool:
        return self.text.startswith(s, self.pos)

    def take(self, s: str) -> bool:
        if self.text.startswith(s, self.pos):
            self.pos += len(s)
            self.last_token = s
            return True
        return False

    def take_regex(self, rx: re.Pattern) -> str | None:
        m = rx.match(self.text, self.pos)
        if not m:
            return None
        self.pos = m.end()
        self.last_token = m.group(0)
        return m.group(0)

    def take_word(self, words) -> str | None:
        """One of `words`, ending at a character that cannot continue an identifier."""
        m = _WORD.match(self.text, self.pos)
        if m and m.group(0) in words:
            end = m.end()
            if end >= len(self.text) or self.text[end] != ".":
                self.pos = end
                self.last_token = m.group(0)
                return m.group(0)
        return None

    def take_call(self, names) -> str | None:
        """`name(` for one of `names`: the opening of a transformer."""
        m = _IDENT.match(self.text, self.pos)
        if m and m.group(0) in names and self.text.startswith("(", m.end()):
            self.pos = m.end() + 1
            self.last_token = m.group(0) + "("
            return m.group(0)
        return None

    def take_keyword(self, word: str) -> bool:
        """'and' / 'or' followed by a blank or '(' (else Falco's error)."""
        if not self.text.startswith(word, self.pos):
            return False
        end = self.pos + len(word)
        if end < len(self.text) and self.text[end] not in BLANKS and self.text[end] != "(":
            # As in Falco, the keyword is lexed as a prefix, then a separator is due.
            raise self.error(f"expected blank or '(' after '{word}'", end)
        self.pos = end
        self.last_token = word
        return True

    def take_quoted(self) -> str | None:
        if self.at_end() or self.text[self.pos] not in "\"'":
            return None
        quote, start = self.text[self.pos], self.pos
        i = start + 1
        while i < len(self.text):
            c = self.text[i]
            if c == "\\":
                i += 2
                continue
            if c == quote:
                try:
                    value = unescape(self.text[start + 1:i], quote)
                except ValueError as e:
                    raise self.error(str(e), start) from None
                self.pos = i + 1
                self.last_token = value
                return value
            i += 1
        raise self.error("unterminated quoted string", start)

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"exceeded max depth limit of {MAX_DEPTH}")

    def node(self, cls, *args, pos: int, **kw):
        return cls(*args, pos=pos, src=self.src, **kw)

    # ---------------------------------------------------------------- productions

    def parse(self) -> Expr:
        if not self.text:
            raise self.error("filter input string is empty")
        expr = self.parse_or()
        self.skip_blanks()
        if not self.at_end():
            raise self.error(f"unexpected token after '{self.last_token}', expecting 'or', 'and'")
        return expr

    def parse_or(self) -> Expr:
        self.enter()
        try:
            self.skip_blanks()
            start = self.pos
            children = [self.parse_and()]
            self.skip_blanks()
            while self.take_keyword("or"):
                children.append(self.parse_and())
                self.skip_blanks()
            return children[0] if len(children) == 1 else self.node(Or, tuple(children), pos=start)
        finally:
            self.depth -= 1

    def parse_and(self) -> Expr:
        self.skip_blanks()
        start = self.pos
        children = [self.parse_not()]
        self.skip_blanks()
        while self.take_keyword("and"):
            children.append(self.parse_not())
            self.skip_blanks()
        return children[0] if len(children) == 1 else self.node(And, tuple(children), pos=start)

    def parse_not(self) -> Expr:
        self.skip_blanks()
        start = self.pos
        negated = False
        while True:
            m = _NOT_BLANK.match(self.text, self.pos)
            if not m:
                break
            self.pos = m.end()
            self.last_token = "not"
            negated = not negated
        if self.take("not("):
            negated = not negated
            child = self.parse_group_rest()
        else:
            child = self.parse_check()
        return self.node(Not, child, pos=start) if negated else child

    def parse_group_rest(self) -> Expr:
        """After a '(': the embedded expression and its ')'."""
        expr = self.parse_or()
        self.skip_blanks()
        if not self.take(")"):
            raise self.error("expected a ')' token")
        return expr

    def parse_check(self) -> Expr:
        self.skip_blanks()
        start = self.pos
        if self.take("("):
            return self.parse_group_rest()
        if self.peek_field_expr():
            field = self.parse_field_expr()
            return self.parse_condition(field, start)
        name = self.take_regex(_IDENT)
        if name is not None:
            return self.node(Ident, name, pos=start)
        raise self.error("expected a '(' token, a field check, or an identifier")

    def peek_field_expr(self) -> bool:
        if _FIELD_NAME.match(self.text, self.pos):
            return True
        m = _IDENT.match(self.text, self.pos)
        return bool(m) and m.group(0) in TRANSFORMERS and self.text.startswith("(", m.end())

    def parse_field_expr(self) -> FieldRef:
        """Transformer '(' FieldExpr ')' | Field."""
        self.skip_blanks()
        start = self.pos
        transformer = self.take_call(TRANSFORMERS)
        if transformer is None:
            return self.parse_field()
        self.enter()
        try:
            self.skip_blanks()
            if not self.peek_field_expr():
                raise self.error("expected a field or a nested valid transformer: "
                                 + _quoted_names(_RIGHT_FIELD_FORMS))
            inner = self.parse_field_expr()
            self.skip_blanks()
            if not self.take(")"):
                raise self.error("expected a ')' token closing the transformer")
        finally:
            self.depth -= 1
        return self.node(FieldRef, inner.name, inner.arg, inner.transformers + (transformer,),
                         pos=start)

    def parse_field(self) -> FieldRef:
        start = self.pos
        name = self.take_regex(_FIELD_NAME)
        if name is None:
            raise self.error("expected a field name")
        arg = None
        if self.take("["):
            arg = self.take_quoted()
            if arg is None:
                arg = self.take_regex(_ARG_BARE)
            if arg is None:
                raise self.error("expected a valid field argument: a quoted string or a bare string")
            if not self.take("]"):
                raise self.error("expected a ']' token")
        return self.node(FieldRef, name, arg, pos=start)

    def parse_condition(self, field: FieldRef, start: int) -> Compare:
        self.skip_blanks()
        op = self.take_word(UNARY_OPS)
        if op:
            return self.node(Compare, field, op, None, pos=start)
        op = next((o for o in NUM_OPS if self.take(o)), None)
        if op:
            return self.node(Compare, field, op, self.parse_num_value(), pos=start)
        op = next((o for o in STR_SYMBOL_OPS if self.take(o)), None) or self.take_word(STR_WORD_OPS)
        if op:
            return self.node(Compare, field, op, self.parse_str_value(), pos=start)
        op = self.take_word(LIST_OPS)
        if op:
            return self.node(Compare, field, op, self.parse_list_value(), pos=start)
        raise self.error("expected a valid check operator: one of " + _quoted_names(_ALL_OPS))

    def parse_right_field(self) -> FieldValue | None:
        """val(field) or a transformer over a field, as a comparison's right side."""
        self.skip_blanks()
        start = self.pos
        if self.take_call(("val",)):
            self.skip_blanks()
            if not _FIELD_NAME.match(self.text, self.pos):
                raise self.error("expected a field within 'val' transformer")
            field = self.parse_field()
            self.skip_blanks()
            if not self.take(")"):
                raise self.error("expected a ')' token closing the transformer")
            return self.node(FieldValue, field, pos=start)
        m = _IDENT.match(self.text, self.pos)
        if m and m.group(0) in TRANSFORMERS and self.text.startswith("(", m.end()):
            return self.node(FieldValue, self.parse_field_expr(), pos=start)
        return None

    def parse_num_value(self) -> Value:
        right = self.parse_right_field()
        if right is not None:
            return right
        start = self.pos
        text = self.take_regex(_HEX) or self.take_regex(_NUMBER)
        if text is None:
            raise self.error("expected a number value or a field with a valid transformer: "
                             + _quoted_names(_RIGHT_FIELD_FORMS))
        return self.node(Literal, text, False, pos=start)

    def parse_str_value(self) -> Value:
        right = self.parse_right_field()
        if right is not None:
            return right
        value = self.parse_plain_value()
        if value is None:
            raise self.error("expected a string value or a field with a valid transformer: "
                             + _quoted_names(_RIGHT_FIELD_FORMS))
        return value

    def parse_plain_value(self) -> Literal | None:
        self.skip_blanks()
        start = self.pos
        text = self.take_quoted()
        if text is not None:
            return self.node(Literal, text, True, pos=start)
        text = self.take_regex(_BARE)
        if text is not None:
            return self.node(Literal, text, False, pos=start)
        return None

    def parse_list_value(self) -> Value:
        self.skip_blanks()
        start = self.pos
        if self.take("("):
            return self.parse_list_rest(start)
        right = self.parse_right_field()
        if right is not None:
            return right
        name = self.take_regex(_IDENT)
        if name is not None:
            # `x in some_list` without parentheses: a one-item list naming a list.
            item = self.node(Literal, name, False, pos=start)
            return self.node(ValueList, (item,), pos=start)
        raise self.error("expected a list, an identifier, or a field with a valid transformer: "
                         + _quoted_names(_RIGHT_FIELD_FORMS))

    def parse_list_rest(self, start: int) -> ValueList:
        """After a list's '(': items separated by ',' and the closing ')'."""
        items = []
        first = self.parse_plain_value()
        if first is not None:
            items.append(first)
            self.skip_blanks()
            while self.take(","):
                item = self.parse_plain_value()
                if item is None:
                    raise self.error("expected a string value")
                items.append(item)
                self.skip_blanks()
        self.skip_blanks()
        if not self.take(")"):
            raise self.error("expected a ')' token")
        return self.node(ValueList, tuple(items), pos=start)


def parse_condition(text: str, src: SourceRef = NO_SOURCE) -> Expr:
    """Parse a whole condition; raises ParseError."""
    return _Parser(text, src).parse()


def parse_value_list(text: str, src: SourceRef = NO_SOURCE) -> ValueList:
    """Parse `(a, "b", c)` -- an exception's list value written as one string."""
    p = _Parser(text, src)
    p.skip_blanks()
    start = p.pos
    if not p.take("("):
        raise p.error("expected a '(' token")
    value = p.parse_list_rest(start)
    p.skip_blanks()
    if not p.at_end():
        raise p.error(f"unexpected token after '{p.last_token}'")
    return value


def parse_field_ref(text: str, src: SourceRef = NO_SOURCE) -> FieldRef:
    """Parse a text that must be exactly one field, e.g. an exception's `proc.aname[2]`."""
    p = _Parser(text, src)
    field = p.parse_field_expr()
    if not p.at_end():
        raise p.error(f"unexpected token after '{p.last_token}'")
    return field


def parse_field_at(text: str, offset: int, src: SourceRef = NO_SOURCE) -> tuple[FieldRef, int]:
    """A field expression starting exactly at `offset` (output formats): (field, end offset)."""
    p = _Parser(text, src)
    p.pos = offset
    if not p.peek_field_expr():
        raise p.error("expected a field name")
    return p.parse_field_expr(), p.pos


def literal_from_item(text: str, src: SourceRef = NO_SOURCE, pos: int = 0) -> Literal:
    """A list item or exception value as Falco reads it once spliced into a condition.

    An item written with quotes in it (YAML '"a b"') is a quoted string and
    takes escapes; an item with a blank gets quoted by Falco, so it takes
    escapes too; any other item is a bare value (and may name a list).
    """
    if text[:1] in ("'", '"'):
        p = _Parser(text, src)
        try:
            value = p.take_quoted()
        except ParseError:
            value = None
        if value is not None and p.at_end():
            return Literal(value, True, pos=pos, src=src)
    elif any(c in BLANKS for c in text):
        try:
            return Literal(unescape(text, '"'), True, pos=pos, src=src)
        except ValueError:
            pass
    return Literal(text, not is_bare(text), pos=pos, src=src)
