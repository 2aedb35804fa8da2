"""Numba helpers that generated rule kernels call: one implementation per operator.

A STR value is the accessor triple (buf, off, len) (len < 0: absent), NUM is
(value, present), IP is (hi, lo, present); see sensor/events/fields.py.
Literals reach these functions as constant arrays built by the `build_*`
helpers at the bottom of this module (plain Python, run at compile time).
The generated code only ever passes such arrays and integers: no rules text.

Strings are compared 8 bytes at a time with unaligned u64 loads; the last
partial word is masked.  Row strings are not assumed aligned or padded (a
field such as fd.filename points into the middle of a path), so a tail that
would run past the end of its buffer is read byte by byte.  Literal arrays
are always zero padded to a multiple of 8, so loads from them never overrun.

The small operators (string equality and prefixes, numeric tests, set lookups)
are `forceinline`, so LLVM inlines them into the kernel however big it is (a
call passes each array struct field by field); the asm of a one-rule kernel
then has no calls left in its row loop.  Its effect on the benchmark was not
measured apart from the other changes.  The loops (contains, glob, pmatch)
stay calls: they run last and rarely.

Helpers that allocate nothing are compiled without NRT (_nrt=False): with
reference counting on, every array passing through a call costs two atomic
operations, which dominated the evaluation time (~2 us per row).  Only the
transformers tolower/toupper/b64 and val(...) icontains allocate, and a
helper that returns an array it was given (basename) must keep NRT too.

The reference evaluator (reference.py) implements the same operators in plain
Python, independently: property tests check that the two agree.
"""
from __future__ import annotations

from collections import namedtuple
from operator import attrgetter

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

# Decorator of the functions the code generator emits (rules, deep subexpressions,
# "any of" loops): numba inlines them into the kernel in its IR, so the batch
# tuples (hundreds of arrays) are never passed as call arguments.  Named here so
# that the generated source holds no string constant.
inlined = njit(inline="always")

# ---------------------------------------------------------------- raw loads


@intrinsic
def load_u64(typingctx, arr, off):
    """8 bytes of a uint8 array at byte offset `off` as a little-endian u64 (unaligned)."""
    sig = types.uint64(arr, types.intp)

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        ptr = builder.gep(ary.data, [args[1]])
        return builder.load(builder.bitcast(ptr, ir.IntType(64).as_pointer()), align=1)

    return sig, codegen


_ONE = np.uint64(1)


@njit(cache=True, _nrt=False, forceinline=True)
def _load_tail(buf, pos, nbytes):
    """The `nbytes` (1..8) bytes at `pos` as a u64, upper bytes zero."""
    if pos + 8 <= buf.size:
        w = load_u64(buf, pos)
        if nbytes >= 8:
            return w
        return w & ((_ONE << np.uint64(8 * nbytes)) - _ONE)
    w = np.uint64(0)
    for j in range(nbytes):
        w |= np.uint64(buf[pos + j]) << np.uint64(8 * j)
    return w


@njit(cache=True, _nrt=False, forceinline=True)
def _mem_eq(a, aoff, b, boff, n):
    """n bytes of a at aoff equal n bytes of b at boff."""
    full = n >> 3
    for j in range(full):
        if load_u64(a, aoff + 8 * j) != load_u64(b, boff + 8 * j):
            return False
    rem = n & 7
    if rem:
        return _load_tail(a, aoff + 8 * full, rem) == _load_tail(b, boff + 8 * full, rem)
    return True


@njit(cache=True, _nrt=False, forceinline=True)
def _lower(c):
    return c + 32 if 65 <= c <= 90 else c


@njit(cache=True, _nrt=False)
def _swapcase(c):
    if 65 <= c <= 90:
        return c + 32
    if 97 <= c <= 122:
        return c - 32
    return c


# ---------------------------------------------------------------- presence


@njit(cache=True, _nrt=False, forceinline=True)
def str_exists(s):
    return s[2] >= 0


@njit(cache=True, _nrt=False, forceinline=True)
def num_exists(v):
    return v[1]


@njit(cache=True, _nrt=False, forceinline=True)
def ip_exists(v):
    return v[2]


# ---------------------------------------------------------------- numbers

# Relational operator codes shared by num_cmp and str_rel (emitted by codegen).
EQ, NE, LT, LE, GT, GE = 0, 1, 2, 3, 4, 5
_SIGN = np.int64(-9223372036854775808)


@njit(cache=True, _nrt=False, forceinline=True)
def _rel(c, op):
    """Apply relational op to a three-way comparison result c (-1, 0, 1)."""
    if op == 0:
        return c == 0
    if op == 1:
        return c != 0
    if op == 2:
        return c < 0
    if op == 3:
        return c <= 0
    if op == 4:
        return c > 0
    return c >= 0


@njit(cache=True, _nrt=False, forceinline=True)
def num_cmp(v, op, c, unsigned):
    """Compare a NUM value to the int64 constant c; unsigned: as u64 bit patterns."""
    x, ok = v
    if not ok:
        return False
    x = np.int64(x)
    c = np.int64(c)
    if unsigned:           # flipping the sign bit maps u64 order onto i64 order
        x ^= _SIGN
        c ^= _SIGN
    return _rel(-1 if x < c else (1 if x > c else 0), op)


@njit(cache=True, _nrt=False, forceinline=True)
def num_cmp_num(a, op, b, unsigned):
    """val(): compare two NUM values; false if either is absent."""
    if not b[1]:
        return False
    return num_cmp(a, op, b[0], unsigned)


@njit(cache=True, _nrt=False, forceinline=True)
def num_in(v, values):
    """v in a sorted int64 constant array (binary search)."""
    x, ok = v
    if not ok:
        return False
    x = np.int64(x)
    lo = 0
    hi = values.size
    while lo < hi:
        mid = (lo + hi) >> 1
        if values[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo < values.size and values[lo] == x


@njit(cache=True, _nrt=False, forceinline=True)
def num_mask_in(v, mask, allowed):
    """(v & mask) in a sorted int64 array: flag tests (sensor.events.flagtest)."""
    return num_in((np.int64(v[0]) & np.int64(mask), v[1]), allowed)


@njit(cache=True, _nrt=False, forceinline=True)
def row_slot_in(etype, edir, slots):
    """The row's (type, dir) slot, type * 2 + dir, is in the sorted array `slots`.
    Takes the row's values, not the B tuple: a kernel's B is a view type of its
    generated module (ColumnViews), which the cache index of a helper compiled
    for it would then name, and fail to load in a process without that module."""
    return num_in((np.int64(etype) * 2 + np.int64(edir), True), slots)


# ---------------------------------------------------------------- strings


@njit(cache=True, _nrt=False, forceinline=True)
def str_eq(s, lit, n):
    buf, off, ln = s
    return ln == n and _mem_eq(buf, off, lit, 0, n)


@njit(cache=True, _nrt=False, forceinline=True)
def str_ne(s, lit, n):
    buf, off, ln = s
    return ln >= 0 and not (ln == n and _mem_eq(buf, off, lit, 0, n))


@njit(cache=True, _nrt=False, forceinline=True)
def str_startswith(s, lit, n):
    buf, off, ln = s
    return ln >= n and _mem_eq(buf, off, lit, 0, n)


@njit(cache=True, _nrt=False, forceinline=True)
def str_endswith(s, lit, n):
    buf, off, ln = s
    return ln >= n and _mem_eq(buf, off + ln - n, lit, 0, n)


@njit(cache=True, _nrt=False)
def _order(a, aoff, alen, b, boff, blen):
    """Three-way byte-wise comparison (memcmp, then the shorter sorts first)."""
    n = min(alen, blen)
    for j in range(n):
        x = a[aoff + j]
        y = b[boff + j]
        if x != y:
            return -1 if x < y else 1
    return -1 if alen < blen else (1 if alen > blen else 0)


@njit(cache=True, _nrt=False)
def _find(h, hoff, hlen, nd, noff, nlen, fold):
    """Index of needle in haystack or -1; fold: ASCII case-insensitive (needle pre-lowered)."""
    if nlen == 0:
        return 0
    for k in range(hlen - nlen + 1):
        j = 0
        while j < nlen:
            c = h[hoff + k + j]
            if fold:
                c = _lower(c)
            if c != nd[noff + j]:
                break
            j += 1
        if j == nlen:
            return k
    return -1


@njit(cache=True, _nrt=False)
def str_rel(s, op, lit, n):
    """Relational op (EQ..GE codes) between a STR and a literal of n bytes."""
    buf, off, ln = s
    if ln < 0:
        return False
    return _rel(_order(buf, off, ln, lit, 0, n), op)


@njit(cache=True, _nrt=False)
def str_contains(s, lit, n, fold):
    buf, off, ln = s
    return ln >= 0 and _find(buf, off, ln, lit, 0, n, fold) >= 0


@njit(cache=True)
def str_op_str(a, op, b):
    """val(): string operator between two fields.  op: EQ..GE, 6 contains,
    7 icontains, 8 startswith, 9 endswith."""
    abuf, aoff, alen = a
    bbuf, boff, blen = b
    if alen < 0 or blen < 0:
        return False
    if op <= 5:
        return _rel(_order(abuf, aoff, alen, bbuf, boff, blen), op)
    if op == 6:
        return _find(abuf, aoff, alen, bbuf, boff, blen, False) >= 0
    if op == 7:
        low = np.empty(blen, np.uint8)
        for j in range(blen):
            low[j] = _lower(bbuf[boff + j])
        return _find(abuf, aoff, alen, low, 0, blen, True) >= 0
    if blen > alen:
        return False
    if op == 8:
        return _mem_eq(abuf, aoff, bbuf, boff, blen)
    return _mem_eq(abuf, aoff + alen - blen, bbuf, boff, blen)


# ---------------------------------------------------------------- glob
# Program: int32 tokens. 0 c: the byte c; 1: any byte; 2: any run;
# 3 neg k lo1 hi1 .. lok hik: a byte class.  Built by build_glob().

@njit(cache=True, _nrt=False)
def _tok_len(prog, p):
    t = prog[p]
    if t == 0:
        return 2
    if t == 3:
        return 3 + 2 * prog[p + 2]
    return 1


@njit(cache=True, _nrt=False)
def _class_has(prog, p, c):
    k = prog[p + 2]
    for r in range(k):
        if prog[p + 3 + 2 * r] <= c <= prog[p + 4 + 2 * r]:
            return True
    return False


@njit(cache=True, _nrt=False)
def _tok_match(prog, p, c, fold):
    t = prog[p]
    if t == 0:
        return (_lower(c) == prog[p + 1]) if fold else (c == prog[p + 1])
    if t == 1:
        return True
    hit = _class_has(prog, p, c) or (fold and _class_has(prog, p, _swapcase(c)))
    return hit != (prog[p + 1] == 1)


@njit(cache=True, _nrt=False)
def _glob(buf, off, ln, prog, p0, p1, fold):
    """Match buf[off:off+ln] against tokens prog[p0:p1]: greedy with one backtrack point."""
    p = p0
    s = 0
    star_p = -1
    star_s = 0
    while s < ln:
        if p < p1 and prog[p] == 2:
            p += 1
            star_p = p
            star_s = s
            continue
        if p < p1 and _tok_match(prog, p, buf[off + s], fold):
            p += _tok_len(prog, p)
            s += 1
            continue
        if star_p >= 0:
            star_s += 1
            s = star_s
            p = star_p
            continue
        return False
    while p < p1 and prog[p] == 2:
        p += 1
    return p == p1


@njit(cache=True, _nrt=False)
def str_glob(s, prog, fold):
    buf, off, ln = s
    return ln >= 0 and _glob(buf, off, ln, prog, 0, prog.size, fold)


# ---------------------------------------------------------------- pmatch
# Program: int32. npat, then per pattern: ncomp, then per component
# kind (0 bytes, 1 glob) n data[n].  Built by build_pmatch().

@njit(cache=True, _nrt=False)
def _next_comp(buf, off, ln, pos):
    """(start, end) of the next non-empty '/'-separated component at or after pos; start<0: none."""
    while pos < ln and buf[off + pos] == 47:
        pos += 1
    if pos >= ln:
        return -1, -1
    end = pos
    while end < ln and buf[off + end] != 47:
        end += 1
    return pos, end


@njit(cache=True, _nrt=False)
def _pattern_prefix(buf, off, ln, prog, p):
    """Does the pattern at prog[p] match a component prefix of the path?  -> (ok, next p)."""
    ncomp = prog[p]
    p += 1
    pos = 0
    ok = True
    for _ in range(ncomp):
        kind = prog[p]
        n = prog[p + 1]
        data = p + 2
        p = data + n
        if not ok:
            continue
        a, b = _next_comp(buf, off, ln, pos)
        if a < 0:
            ok = False
            continue
        pos = b
        if kind == 1:
            ok = _glob(buf, off + a, b - a, prog, data, data + n, False)
        else:
            ok = b - a == n
            j = 0
            while ok and j < n:
                ok = buf[off + a + j] == prog[data + j]
                j += 1
    return ok, p


@njit(cache=True, _nrt=False)
def str_pmatch(s, prog):
    buf, off, ln = s
    if ln < 0:
        return False
    p = 1
    for _ in range(prog[0]):
        ok, p = _pattern_prefix(buf, off, ln, prog, p)
        if ok:
            return True
    return False


# ---------------------------------------------------------------- string sets
# Open addressing over a hash of the string's words.  A set is four arrays:
# table (int32 slot -> item or -1, power-of-two size), items (uint8, each
# item zero padded to 8), ioff (int64), ilen (int64).  Built by build_strset().

_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xBF58476D1CE4E5B9)


@njit(cache=True, _nrt=False)
def str_hash(buf, off, ln):
    h = np.uint64(ln) * _M1
    full = ln >> 3
    for j in range(full):
        h = (h ^ load_u64(buf, off + 8 * j)) * _M2
    rem = ln & 7
    if rem:
        h = (h ^ _load_tail(buf, off + 8 * full, rem)) * _M2
    return h ^ (h >> np.uint64(29))


@njit(cache=True, _nrt=False)
def _set_has(buf, off, ln, table, items, ioff, ilen):
    mask = table.size - 1
    k = np.int64(str_hash(buf, off, ln) & np.uint64(mask))
    while True:
        it = table[k]
        if it < 0:
            return False
        if ilen[it] == ln and _mem_eq(buf, off, items, ioff[it], ln):
            return True
        k = (k + 1) & mask


@njit(cache=True, _nrt=False, forceinline=True)
def str_in(s, table, items, ioff, ilen):
    buf, off, ln = s
    return ln >= 0 and _set_has(buf, off, ln, table, items, ioff, ilen)


@njit(cache=True, _nrt=False)
def list_in(s, table, items, ioff, ilen, any_of):
    """List-valued field (NUL separated): every element in the set (`in`), or,
    any_of, at least one (`intersects`).  An empty list has no elements."""
    buf, off, ln = s
    if ln < 0:
        return False
    if ln == 0:
        return not any_of
    a = 0
    while a <= ln:
        b = a
        while b < ln and buf[off + b] != 0:
            b += 1
        hit = _set_has(buf, off + a, b - a, table, items, ioff, ilen)
        if hit and any_of:
            return True
        if not hit and not any_of:
            return False
        a = b + 1
    return not any_of


# ---------------------------------------------------------------- IP


@njit(cache=True, _nrt=False, forceinline=True)
def ip_in(v, nets, negate):
    """Address in any of nets (rows net_hi, net_lo, mask_hi, mask_lo; net pre-masked);
    negate: present and in none of them (`!=`)."""
    hi, lo, ok = v
    if not ok:
        return False
    for k in range(nets.shape[0]):
        if (hi & nets[k, 2]) == nets[k, 0] and (lo & nets[k, 3]) == nets[k, 1]:
            return not negate
    return negate


@njit(cache=True, _nrt=False, forceinline=True)
def ip_cmp_ip(a, b, eq):
    """val(): two addresses equal (eq) or different; false if either is absent."""
    if not (a[2] and b[2]):
        return False
    return (a[0] == b[0] and a[1] == b[1]) == eq


# ---------------------------------------------------------------- transformers


@njit(cache=True)
def _mapped(s, how):
    buf, off, ln = s
    out = np.zeros(max(ln, 0) + 8, np.uint8)
    for j in range(ln):
        c = buf[off + j]
        if how == 0 and 65 <= c <= 90:
            c += 32
        elif how == 1 and 97 <= c <= 122:
            c -= 32
        out[j] = c
    return out, np.int64(0), np.int64(ln)


@njit(cache=True)
def t_tolower(s):
    return _mapped(s, 0)


@njit(cache=True)
def t_toupper(s):
    return _mapped(s, 1)


@njit(cache=True)                      # returns its argument's array: needs NRT
def t_basename(s):
    """Text after the last '/' (all of it if there is none)."""
    buf, off, ln = s
    if ln < 0:
        return s
    k = ln
    while k > 0 and buf[off + k - 1] != 47:
        k -= 1
    return buf, off + k, ln - k


@njit(cache=True, _nrt=False)
def _b64val(c):
    if 65 <= c <= 90:
        return c - 65
    if 97 <= c <= 122:
        return c - 71
    if 48 <= c <= 57:
        return c + 4
    if c == 43:
        return 62
    if c == 47:
        return 63
    return -1


@njit(cache=True)
def t_b64(s):
    """Standard base64 decode; length must be a multiple of 4, '=' padding only at the
    end (at most 2).  Anything else makes the value absent."""
    buf, off, ln = s
    out = np.zeros(max(ln, 0) + 8, np.uint8)
    if ln < 0 or ln % 4 != 0:
        return out, np.int64(0), np.int64(-1)
    pad = 0
    if ln >= 1 and buf[off + ln - 1] == 61:
        pad = 1
        if ln >= 2 and buf[off + ln - 2] == 61:
            pad = 2
    n = 0
    acc = 0
    for j in range(ln - pad):
        d = _b64val(buf[off + j])
        if d < 0:
            return out, np.int64(0), np.int64(-1)
        acc = (acc << 6) | d
        if j % 4 == 3:
            out[n] = (acc >> 16) & 255
            out[n + 1] = (acc >> 8) & 255
            out[n + 2] = acc & 255
            n += 3
            acc = 0
    if pad == 1:
        out[n] = (acc >> 10) & 255
        out[n + 1] = (acc >> 2) & 255
        n += 2
    elif pad == 2:
        out[n] = (acc >> 4) & 255
        n += 1
    return out, np.int64(0), np.int64(n)


@njit(cache=True, _nrt=False)
def t_len(s, is_list):
    """len(): bytes of a string, or elements of a list-valued field; NUM."""
    buf, off, ln = s
    if ln < 0:
        return np.int64(0), False
    if not is_list or ln == 0:
        return np.int64(ln), True
    n = 1
    for j in range(ln):
        if buf[off + j] == 0:
            n += 1
    return np.int64(n), True


# ================================================================ builders
# Plain Python, run by the code generator: literal values -> constant arrays.

def build_bytes(data: bytes) -> np.ndarray:
    """A literal as uint8, zero padded to a multiple of 8 (at least 8)."""
    n = max(8, (len(data) + 7) // 8 * 8)
    out = np.zeros(n, np.uint8)
    out[:len(data)] = np.frombuffer(data, np.uint8)
    return out


def build_strset(items) -> tuple:
    """(table, items, ioff, ilen) for str_in/list_in; duplicates are dropped."""
    uniq = list(dict.fromkeys(bytes(x) for x in items))
    size = 8
    while size < 2 * len(uniq):
        size *= 2
    ioff = np.zeros(max(len(uniq), 1), np.int64)
    ilen = np.zeros(max(len(uniq), 1), np.int64)
    chunks, pos = [], 0
    for k, it in enumerate(uniq):
        padded = build_bytes(it)
        ioff[k], ilen[k] = pos, len(it)
        chunks.append(padded)
        pos += padded.size
    flat = np.concatenate(chunks) if chunks else np.zeros(8, np.uint8)
    table = np.full(size, -1, np.int32)
    for k, it in enumerate(uniq):
        slot = int(str_hash(flat, int(ioff[k]), len(it))) & (size - 1)
        while table[slot] >= 0:
            slot = (slot + 1) & (size - 1)
        table[slot] = k
    return table, flat, ioff, ilen


_CLASSES = {
    b"alpha": [(65, 90), (97, 122)], b"digit": [(48, 57)],
    b"alnum": [(48, 57), (65, 90), (97, 122)], b"upper": [(65, 90)],
    b"lower": [(97, 122)], b"space": [(9, 13), (32, 32)], b"blank": [(9, 9), (32, 32)],
    b"xdigit": [(48, 57), (65, 70), (97, 102)], b"cntrl": [(0, 31), (127, 127)],
    b"print": [(32, 126)], b"graph": [(33, 126)],
    b"punct": [(33, 47), (58, 64), (91, 96), (123, 126)],
}


def _parse_class(pat: bytes, i: int):
    """Parse a bracket expression starting after '['; -> (neg, ranges, next index) or None."""
    neg = i < len(pat) and pat[i] in b"!^"
    j = i + 1 if neg else i
    ranges = []
    first = True
    while j < len(pat):
        c = pat[j]
        if c == ord("]") and not first:
            return neg, ranges, j + 1
        first = False
        if c == ord("[") and pat[j + 1:j + 2] == b":":
            end = pat.find(b":]", j + 2)
            if end >= 0 and pat[j + 2:end] in _CLASSES:
                ranges += _CLASSES[pat[j + 2:end]]
                j = end + 2
                continue
        if c == ord("\\") and j + 1 < len(pat):
            j += 1
            c = pat[j]
        lo = c
        j += 1
        if j + 1 < len(pat) and pat[j] == ord("-") and pat[j + 1] != ord("]"):
            hi = pat[j + 1]
            if hi == ord("\\") and j + 2 < len(pat):
                hi = pat[j + 2]
                j += 1
            j += 2
            if lo <= hi:
                ranges.append((lo, hi))
            continue
        ranges.append((lo, lo))
    return None


def glob_tokens(pat: bytes, fold: bool) -> list:
    """fnmatch(3) with flags 0 (what Falco uses): '*' and '?' also match '/',
    backslash quotes, an unclosed '[' is a literal.  fold: literals lowered."""
    toks, i = [], 0
    while i < len(pat):
        c = pat[i]
        i += 1
        if c == ord("*"):
            if not toks or toks[-1] != [2]:
                toks.append([2])
        elif c == ord("?"):
            toks.append([1])
        elif c == ord("[") and (cls := _parse_class(pat, i)) is not None:
            neg, ranges, i = cls
            toks.append([3, int(neg), len(ranges)] + [x for r in ranges for x in r])
        else:
            if c == ord("\\") and i < len(pat):
                c = pat[i]
                i += 1
            toks.append([0, (c + 32 if fold and 65 <= c <= 90 else c)])
    return toks


def build_glob(pat: bytes, fold: bool) -> np.ndarray:
    flat = [x for t in glob_tokens(pat, fold) for x in t]
    return np.array(flat, np.int32)


def build_pmatch(patterns) -> np.ndarray:
    """Patterns -> pmatch program.  A component with * ? [ is a glob."""
    out = [len(patterns)]
    for pat in patterns:
        comps = [c for c in bytes(pat).split(b"/") if c]
        out.append(len(comps))
        for comp in comps:
            if any(ch in comp for ch in b"*?["):
                data = [x for t in glob_tokens(comp, False) for x in t]
                out += [1, len(data)] + data
            else:
                out += [0, len(comp)] + list(comp)
    return np.array(out, np.int32)


def build_nets(nets) -> np.ndarray:
    """[(hi, lo, mask_hi, mask_lo)] -> uint64 (k, 4), net pre-masked."""
    arr = np.zeros((max(len(nets), 1), 4), np.uint64)
    for k, (hi, lo, mh, ml) in enumerate(nets):
        arr[k] = (hi & mh, lo & ml, mh, ml)
    if not nets:                   # no net: a mask that can never be met
        arr[0] = (1, 0, 0, 0)
    return arr


# ---------------------------------------------------------------- dispatch


@njit(cache=True, nogil=True, _nrt=False)
def group_rows(types, n, table, other, rows, starts):
    """Counting sort of rows 0..n-1 by bucket: table[type], or `other` for a type
    beyond the table.  On return rows[starts[b]:starts[b + 1]] are bucket b's
    rows, ascending.  `starts` (buckets + 1 entries) must come in zeroed."""
    nb = starts.size - 1
    for i in range(n):
        t = np.int64(types[i])
        b = np.int64(table[t]) if t < table.size else other
        starts[b + 1] += 1
    for b in range(nb):
        starts[b + 1] += starts[b]
    # fill from the end of each bucket downwards (starts[b + 1] is its cursor), so
    # rows stay ascending and starts[b + 1] ends up at the start of bucket b
    for i in range(n - 1, -1, -1):
        t = np.int64(types[i])
        b = np.int64(table[t]) if t < table.size else other
        starts[b + 1] -= 1
        rows[starts[b + 1]] = i
    for b in range(nb):
        starts[b] = starts[b + 1]
    starts[nb] = n
    return 0


@njit(cache=True, nogil=True, _nrt=False)
def shard_rows(shard, w, n, rows, starts, every):
    """Keep only the rows i with shard[i] == w, for a worker evaluating its share
    of a batch.  The buckets group_rows made (rows, starts) are compacted in
    place, stable, so each bucket's rows stay ascending and starts is updated;
    if `every` is not empty (kernels of rules without event types), every[:k]
    gets the shard's rows among 0..n-1, ascending.  Returns k (0 when every is
    empty).  O(n)."""
    nb = starts.size - 1
    k = 0
    lo = starts[0]
    for b in range(nb):
        hi = starts[b + 1]
        starts[b] = k
        for j in range(lo, hi):           # k <= j: compacting in place is safe
            i = rows[j]
            if shard[i] == w:
                rows[k] = i
                k += 1
        lo = hi
    starts[nb] = k
    k = 0
    if every.size > 0:
        for i in range(n):
            if shard[i] == w:
                every[k] = i
                k += 1
    return k


# ---------------------------------------------------------------- column views


class ColumnViews:
    """Three small namedtuples holding the columns of B, P and C that one kernel
    reads (codegen._columns says which, as indexes into the batch.py tuples), so
    that the kernel is typed, compiled and called with those arrays only.

    The classes are named <Table>_<tag> in `module`, the generated module, which
    binds them under those names: numba's cache finds them there by name."""

    def __init__(self, module: str, tag: int, batch, procs, containers):
        from ..events.batch import Batch, Containers, Procs
        self.types, self._getters = [], []
        for table, index in ((Batch, batch), (Procs, procs), (Containers, containers)):
            names = [table._fields[j] for j in index] or ["n"]     # never empty
            self.types.append(namedtuple(f"{table.__name__}_{int(tag)}", names, module=module))
            get = attrgetter(*names)
            self._getters.append(get if len(names) > 1 else (lambda t, get=get: (get(t),)))

    def of(self, B, P, C):
        """The views of this batch's tables (the same arrays, not copies)."""
        (tb, tp, tc), (gb, gp, gc) = self.types, self._getters
        return tuple.__new__(tb, gb(B)), tuple.__new__(tp, gp(P)), tuple.__new__(tc, gc(C))
