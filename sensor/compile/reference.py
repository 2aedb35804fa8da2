"""The reference evaluator: plain Python, one row at a time.  The spec of every operator.

It reads values exactly as the compiled kernels do (each field's accessor,
interpreted through `get.py_func`) and applies operators as Falco does
(libsinsp filter_compare and path_prefix_search):

  absent value        every comparison is false (so `not` of it is true);
                      `exists` is true iff the value is present
  = != < <= > >=      strings byte-wise (memcmp, shorter first), numbers as
                      integers (u64 fields unsigned), IPs by netmask
  contains            substring; an empty literal is found everywhere
  icontains           substring, ASCII case-insensitive
  startswith endswith prefix / suffix of the bytes
  bcontains bstartswith  like contains / startswith, literal given in hex
  glob iglob          fnmatch(3) with flags 0 on the whole string: * and ? match
                      any byte including '/', [..] classes with ! or ^, ranges
                      and [:name:], backslash quotes, an unclosed [ is literal;
                      iglob folds ASCII case
  pmatch              true if some listed path is a prefix of the value on
                      component boundaries (components split on '/', empty ones
                      dropped; a listed component with * ? [ is a glob)
  in, intersects      scalar field: equal to some item; list-valued field: `in`
                      = every element is an item, `intersects` = some element is
  regex               the whole value matches (Python re; the compiler rejects it)
  val(f)              compare with another field's value (both must be present)

Fields without an argument that stand for "any of arg lo..hi" (proc.aname: any
ancestor; fd.ip, fd.port, fd.net: either end of the connection) hold if the
comparison holds for some arg -- except `!=` on fd.ip / fd.port / fd.net, which
holds only if it holds for every end (Falco: neither end equals the value).

Transformers (innermost first): tolower/toupper (ASCII), b64 (strict standard
base64 decode; invalid input makes the value absent), basename (after the
last '/'), len (bytes of a string, elements of a list).

Rule dispatch: a rule is only tried on rows whose event type is in
Rule.evttypes (None: every type); rules are tried in order; with
rule_matching "first" a row stops at its first match.
"""
from __future__ import annotations

import re

import numpy as np

from .bind import BAnd, BCmp, BField, BNot, BOr, FlagText, bind
from ..events.fields import Kind

_U64 = 2**64


def read(bf: BField, B, P, C, i, arg=None):
    """The field's value for row i: bytes / list of bytes / int / 128-bit int, or None.
    A flags field reads as its printed names; evt.arg.NAME as the parameter's text."""
    arg = bf.arg if arg is None else arg
    get = getattr(bf.field.get, "py_func", bf.field.get)
    key = np.frombuffer(bf.key, np.uint8) if bf.key else np.zeros(0, np.uint8)
    if bf.params:
        return _param_text(bf, B, P, C, i, key)
    raw = get(B, P, C, i, np.int64(arg), key)
    kind = bf.field.type.kind
    if kind == Kind.NUM:
        v, ok = raw
        val = int(v) if ok else None
    elif kind == Kind.IP:
        hi, lo, ok = raw
        val = (int(hi) << 64) | int(lo) if ok else None
    else:
        buf, off, ln = raw
        val = bytes(np.asarray(buf[int(off):int(off) + int(ln)])) if ln >= 0 else None
    if bf.flags and val is not None:
        from ..events.fields import flag_render
        return flag_render(bf.field).text(val % _U64).encode()
    is_list = bf.field.type.value == "list"
    if val is not None and is_list:
        val = val.split(b"\0") if val else []
    for tr in bf.transformers:
        val = _TRANSFORM[tr](val, is_list)
        is_list = False
    return val


def _param_text(bf, B, P, C, i, key):
    from ..events.evtargs import evt_arg_text, row_param
    p, _ = row_param(B, i, bf.arg)
    if p is None:
        return None
    if p.storage == "bytes" or p.ptype in ("uid", "gid"):
        buf, off, ln = bf.field.get.py_func(B, P, C, i, np.int64(bf.arg), key)
        return bytes(np.asarray(buf[int(off):int(off) + int(ln)])) if ln >= 0 else None
    text = evt_arg_text(B, P, C, i, bf.arg, key)
    return None if text is None else text.encode()


def _b64(v, _):
    if v is None or len(v) % 4:
        return None
    body = v.rstrip(b"=")
    if len(v) - len(body) > 2:
        return None
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    bits = ""
    for c in body:
        k = alphabet.find(bytes([c]))
        if k < 0:
            return None
        bits += format(k, "06b")
    usable = len(bits) // 8 * 8
    return bytes(int(bits[j:j + 8], 2) for j in range(0, usable, 8))


_TRANSFORM = {
    "tolower": lambda v, _: None if v is None else v.lower(),
    "toupper": lambda v, _: None if v is None else v.upper(),
    "basename": lambda v, _: None if v is None else v[v.rfind(b"/") + 1:],
    "b64": _b64,
    "len": lambda v, _: None if v is None else len(v),
}


# ---------------------------------------------------------------- glob

def _class_at(pat: bytes, i: int):
    """Bracket expression whose '[' is at i-1 -> (negated, predicate, end) or None."""
    neg = pat[i:i + 1] in (b"!", b"^")
    j = i + int(neg)
    members = set()
    start = j
    while j < len(pat):
        if pat[j] == 93 and j > start:                      # ']'
            return neg, members, j + 1
        named = re.match(rb"\[:(alpha|digit|alnum|upper|lower|space|blank|xdigit|cntrl|"
                         rb"print|graph|punct):\]", pat[j:])
        if named:
            members |= _NAMED[named.group(1)]
            j += named.end()
            continue
        lo, j = _class_char(pat, j)
        if j + 1 < len(pat) and pat[j] == 45 and pat[j + 1] != 93:   # '-' not before ']'
            hi, j = _class_char(pat, j + 1)
            members |= set(range(lo, hi + 1))
        else:
            members.add(lo)
    return None


def _class_char(pat, j):
    if pat[j] == 92 and j + 1 < len(pat):                   # backslash quotes
        return pat[j + 1], j + 2
    return pat[j], j + 1


_NAMED = {
    b"alpha": set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"),
    b"digit": set(b"0123456789"), b"upper": set(range(65, 91)), b"lower": set(range(97, 123)),
    b"space": set(b" \t\n\r\x0b\x0c"), b"blank": set(b" \t"),
    b"xdigit": set(b"0123456789abcdefABCDEF"), b"cntrl": set(range(32)) | {127},
    b"print": set(range(32, 127)), b"graph": set(range(33, 127)),
}
_NAMED[b"alnum"] = _NAMED[b"alpha"] | _NAMED[b"digit"]
_NAMED[b"punct"] = _NAMED[b"graph"] - _NAMED[b"alnum"]


def glob_match(pat: bytes, s: bytes, fold: bool = False) -> bool:
    """fnmatch(pat, s, 0), or with FNM_CASEFOLD (ASCII) when fold."""
    low = (lambda c: c + 32 if 65 <= c <= 90 else c) if fold else (lambda c: c)
    memo = {}

    def match(pi, si):
        if (pi, si) in memo:
            return memo[pi, si]
        if pi == len(pat):
            ok = si == len(s)
        elif pat[pi] == 42:                                  # '*'
            ok = any(match(pi + 1, k) for k in range(si, len(s) + 1))
        elif si == len(s):
            ok = False
        elif pat[pi] == 63:                                  # '?'
            ok = match(pi + 1, si + 1)
        else:
            cls = _class_at(pat, pi + 1) if pat[pi] == 91 else None
            c = s[si]
            if cls is not None:
                neg, members, end = cls
                swapped = bytes([c]).swapcase()[0]
                hit = c in members or (fold and swapped in members)
                ok = hit != neg and match(end, si + 1)
            else:
                lit, nxt = pat[pi], pi + 1
                if lit == 92 and pi + 1 < len(pat):          # backslash quotes
                    lit, nxt = pat[pi + 1], pi + 2
                ok = low(lit) == low(c) and match(nxt, si + 1)
        memo[pi, si] = ok
        return ok

    return match(0, 0)


def pmatch(patterns, path: bytes) -> bool:
    comps = [c for c in path.split(b"/") if c]
    for pat in patterns:
        want = [c for c in pat.split(b"/") if c]
        if len(want) <= len(comps) and all(
                glob_match(w, c) if any(x in w for x in b"*?[") else w == c
                for w, c in zip(want, comps)):
            return True
    return False


# ---------------------------------------------------------------- operators

def _order(a, b) -> int:
    return (a > b) - (a < b)


_REL = {"=": lambda c: c == 0, "!=": lambda c: c != 0, "<": lambda c: c < 0,
        "<=": lambda c: c <= 0, ">": lambda c: c > 0, ">=": lambda c: c >= 0}


def _in_net(v: int, net) -> bool:
    nh, nl, mh, ml = net
    return ((v >> 64) & mh) == nh and ((v & (_U64 - 1)) & ml) == nl


def _compare_str(op, v: bytes, lit):
    if op in _REL:
        return _REL[op](_order(v, lit))
    if op in ("contains", "bcontains"):
        return lit in v
    if op == "icontains":
        return lit.lower() in v.lower()
    if op in ("startswith", "bstartswith"):
        return v.startswith(lit)
    if op == "endswith":
        return v.endswith(lit)
    if op in ("glob", "iglob"):
        return glob_match(lit, v, op == "iglob")
    if op == "pmatch":
        return pmatch(lit, v)
    if op in ("in", "intersects"):
        return v in lit
    if op == "regex":
        return re.fullmatch(lit, v) is not None
    raise AssertionError(op)


# Fields standing for both ends of a connection (libsinsp sinsp_filter_check_fd::
# compare_ip / compare_port / compare_net): `!=` holds only if it holds for both the
# client and the server end ("neither end is X"); every other operator, for either.
_BOTH_ENDS_NE = frozenset({"fd.ip", "fd.port", "fd.net"})


def every_end_must_hold(cmp: BCmp) -> bool:
    """For an argument-less "any of" field: must the test hold for every value
    (`fd.ip != X`: neither end is X) rather than for some?"""
    bf = cmp.field
    return cmp.op == "!=" and bf.field.name in _BOTH_ENDS_NE and not bf.transformers


def compare(cmp: BCmp, B, P, C, i) -> bool:
    bf = cmp.field
    if bf.any_range is None:
        return compare_value(cmp, read(bf, B, P, C, i), B, P, C, i)
    lo, hi = bf.any_range       # no argument: holds if it holds for some arg lo.. (upwards,
    every = every_end_must_hold(cmp)
    seen = False                # stopping at the first absent value)
    for arg in range(lo, hi + 1):
        v = read(bf, B, P, C, i, arg)
        if v is None:
            break
        seen = True
        if compare_value(cmp, v, B, P, C, i) != every:
            return not every
    return every and seen


def compare_value(cmp: BCmp, v, B=None, P=None, C=None, i=0) -> bool:
    """The comparison given the field's value v (None: absent); B, P, C, i are only
    needed for val(field)."""
    if v is None:
        return False
    op, lit, bf = cmp.op, cmp.value, cmp.field
    if op == "exists":
        return True
    if isinstance(lit, FlagText):
        return _compare_str(op, v, lit.literal)
    if isinstance(lit, BField):
        other = read(lit, B, P, C, i)
        if other is None:
            return False
        if bf.kind == Kind.NUM:
            return _compare_num(op, v, other, bf.unsigned)
        if bf.kind == Kind.IP:
            return (v == other) == (op == "=")
        return _compare_str(op, v, other)
    if bf.kind == Kind.IP:
        hit = any(_in_net(v, n) for n in (lit if op in ("in", "intersects") else (lit,)))
        return not hit if op == "!=" else hit
    if bf.kind == Kind.NUM:
        if op in ("in", "intersects"):
            return v in lit
        return _compare_num(op, v, lit, bf.unsigned)
    if bf.is_list:
        items = set(lit)
        if op == "in":
            return all(e in items for e in v)
        return any(e in items for e in v)
    return _compare_str(op, v, lit)


def _compare_num(op, a: int, b: int, unsigned: bool) -> bool:
    if unsigned:
        a, b = a % _U64, b % _U64
    return _REL[op](_order(a, b))


def evaluate(expr, B, P, C, i) -> bool:
    """A bound condition on row i."""
    if isinstance(expr, BAnd):
        return all(evaluate(c, B, P, C, i) for c in expr.children)
    if isinstance(expr, BOr):
        return any(evaluate(c, B, P, C, i) for c in expr.children)
    if isinstance(expr, BNot):
        return not evaluate(expr.child, B, P, C, i)
    return compare(expr, B, P, C, i)


def run(rules, B, P, C, rule_matching: str = "first", reg=None) -> list[tuple[int, int]]:
    """Matches of enabled rules over a batch as (row, rule id), rows in order."""
    bound = [(r, bind(r.condition, reg)) for r in rules if r.enabled]
    out = []
    for i in range(int(B.n[0])):
        t = int(B.type[i])
        for rule, cond in bound:
            if rule.evttypes is not None and t not in rule.evttypes:
                continue
            if evaluate(cond, B, P, C, i):
                out.append((i, rule.id))
                if rule_matching == "first":
                    break
    return out
