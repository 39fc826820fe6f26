"""Compiled (numba) loops of the Avro record-batch codec: flat records, row by row, field by field.

The encoder and the column-wise reader (``streams.serde.fast_encode``/``fast_decode``) turn columns into
one uniform layout and call these loops, so one compiled signature serves every schema. Field kinds:
:data:`VARINT` (int/long, already zigzag-encoded), :data:`F8` (double bits), :data:`F4` (float bits),
:data:`BOOL`, :data:`STR` (UCS-4 code points, NUL-padded as numpy stores them). The kernels never raise:
they return an error code and the caller falls back to fastavro, which decides.
No fastmath: every value is moved as bits, never computed.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from streams.core.jit import njit, njit_inline

VARINT, F8, F4, BOOL, STR = 0, 1, 2, 3, 4
KIND = {"int": VARINT, "long": VARINT, "double": F8, "float": F4, "boolean": BOOL, "string": STR}
WIDTH = {VARINT: 10, F8: 8, F4: 4, BOOL: 1}
"""Most bytes one value of a kind takes (a string: its length varint, at most 5, plus 4 per code point)."""

OK, BAD_STRING, TRUNCATED, LONG_VARINT, NEGATIVE_LENGTH, NUL, BAD_UTF8, ROW_END = range(8)
ERRORS = (
    "",
    "a string holds NUL or a code point UTF-8 cannot carry",
    "a row ends inside a value",
    "varint longer than 10 bytes (or above 64 bits)",
    "negative string length",
    "NUL inside a string",  # numpy strings would drop it: fastavro decides
    "invalid UTF-8",
    "decoded rows do not end where the index says",
)


@njit_inline
def _put_varint(out: npt.NDArray[np.uint8], p: int, z: np.uint64) -> int:
    while z >= 0x80:
        out[p] = np.uint8((z & np.uint64(0x7F)) | np.uint64(0x80))
        z >>= np.uint64(7)
        p += 1
    out[p] = np.uint8(z)
    return p + 1


@njit_inline
def _put_string(out: npt.NDArray[np.uint8], p: int, codes: npt.NDArray[np.uint32]) -> int:
    """Length varint then UTF-8 of ``codes`` (trailing NULs are numpy's padding); -1 when not encodable."""
    n = len(codes)
    while n > 0 and codes[n - 1] == 0:
        n -= 1
    size = 0
    for j in range(n):
        c = codes[j]
        if c == 0 or (0xD800 <= c <= 0xDFFF) or c > 0x10FFFF:
            return -1
        size += 1 if c < 0x80 else 2 if c < 0x800 else 3 if c < 0x10000 else 4
    p = _put_varint(out, p, np.uint64(size << 1))
    for j in range(n):
        c = codes[j]
        if c < 0x80:
            out[p] = c
            p += 1
        elif c < 0x800:
            out[p] = 0xC0 | (c >> 6)
            out[p + 1] = 0x80 | (c & 0x3F)
            p += 2
        elif c < 0x10000:
            out[p] = 0xE0 | (c >> 12)
            out[p + 1] = 0x80 | ((c >> 6) & 0x3F)
            out[p + 2] = 0x80 | (c & 0x3F)
            p += 3
        else:
            out[p] = 0xF0 | (c >> 18)
            out[p + 1] = 0x80 | ((c >> 12) & 0x3F)
            out[p + 2] = 0x80 | ((c >> 6) & 0x3F)
            out[p + 3] = 0x80 | (c & 0x3F)
            p += 4
    return p


@njit
def encode_rows(
    kinds: npt.NDArray[np.int64],
    nums: npt.NDArray[np.uint64],
    codes: npt.NDArray[np.uint32],
    str_at: npt.NDArray[np.int64],
    str_width: npt.NDArray[np.int64],
    capacity: int,
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64], int]:
    """Avro bodies of ``n`` rows, concatenated, and each row's start (n + 1 values), plus an error code.

    ``nums`` (n, fields): zigzag value, float bits or 0/1 per non-string field; ``codes`` (n, W): every
    string field's code points side by side, field ``f`` in columns ``str_at[f] : str_at[f] + str_width[f]``.
    """
    n = nums.shape[0]
    out = np.empty(capacity, dtype=np.uint8)
    starts = np.empty(n + 1, dtype=np.int64)
    p = 0
    for i in range(n):
        starts[i] = p
        for f in range(len(kinds)):
            k = kinds[f]
            v = nums[i, f]
            if k == VARINT:
                p = _put_varint(out, p, v)
            elif k == F8:
                for b in range(8):
                    out[p + b] = np.uint8((v >> np.uint64(8 * b)) & np.uint64(0xFF))
                p += 8
            elif k == F4:
                for b in range(4):
                    out[p + b] = np.uint8((v >> np.uint64(8 * b)) & np.uint64(0xFF))
                p += 4
            elif k == BOOL:
                out[p] = np.uint8(v)
                p += 1
            else:
                p = _put_string(out, p, codes[i, str_at[f] : str_at[f] + str_width[f]])
                if p < 0:
                    return out[:0], starts, BAD_STRING
    starts[n] = p
    return out[:p], starts, OK


@njit_inline
def _get_varint(buf: npt.NDArray[np.uint8], p: int, end: int) -> tuple[np.uint64, int]:
    """(zigzag value, next position); position -1: truncated, -2: longer than 10 bytes or above 64 bits."""
    z = np.uint64(0)
    for k in range(10):
        if p + k >= end:
            return z, -1
        byte = np.uint64(buf[p + k])
        if k == 9 and byte > 1:
            return z, -2
        z |= (byte & np.uint64(0x7F)) << np.uint64(7 * k)
        if byte < 0x80:
            return z, p + k + 1
    return z, -2


_TILE = 128
"""Rows decoded into a small row-major scratch before they are copied out field by field: writing each
row's fields straight into the (fields, rows) columns costs a cache line and a page per field (2.5x)."""


@njit_inline
def _decode_row(
    buf: npt.NDArray[np.uint8],
    p: int,
    e: int,
    kinds: npt.NDArray[np.int64],
    nums: npt.NDArray[np.uint64],
    s_at: npt.NDArray[np.int64],
    s_len: npt.NDArray[np.int64],
) -> int:
    """One row's values into ``nums`` (fields,) and its strings' (offset, length); error code."""
    s = 0
    for f in range(len(kinds)):
        k = kinds[f]
        if k in (VARINT, STR):
            z, q = _get_varint(buf, p, e)
            if q < 0:
                return TRUNCATED if q == -1 else LONG_VARINT
            p = q
            v = (z >> np.uint64(1)) ^ (np.uint64(0) - (z & np.uint64(1)))
            if k == VARINT:
                nums[f] = v
                continue
            length = int(np.int64(v))
            if length < 0:
                return NEGATIVE_LENGTH
            if p + length > e:
                return TRUNCATED
            s_at[s], s_len[s] = p, length
            s += 1
            p += length
        else:
            w = 8 if k == F8 else 4 if k == F4 else 1
            if p + w > e:
                return TRUNCATED
            v = np.uint64(0)
            for b in range(w):
                v |= np.uint64(buf[p + b]) << np.uint64(8 * b)
            nums[f] = v
            p += w
    return OK if p == e else ROW_END


@njit
def decode_rows(
    buf: npt.NDArray[np.uint8],
    start: npt.NDArray[np.int64],
    end: npt.NDArray[np.int64],
    kinds: npt.NDArray[np.int64],
    n_strings: int,
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64], npt.NDArray[np.int64], int]:
    """Fields of rows ``buf[start[i] : end[i]]``: (values (fields, rows): zigzag-decoded ints as int64 bits,
    float bits, 0/1, 0 for strings; the ``n_strings`` string fields' byte offsets and lengths (strings,
    rows); error code)."""
    n, nf = len(start), len(kinds)
    nums = np.empty((nf, n), dtype=np.uint64)
    s_at = np.empty((n_strings, n), dtype=np.int64)
    s_len = np.empty((n_strings, n), dtype=np.int64)
    tile = np.zeros((_TILE, nf), dtype=np.uint64)
    tile_at = np.zeros((_TILE, n_strings), dtype=np.int64)
    tile_len = np.zeros((_TILE, n_strings), dtype=np.int64)
    for a in range(0, n, _TILE):
        b = min(a + _TILE, n)
        for i in range(a, b):
            err = _decode_row(buf, start[i], end[i], kinds, tile[i - a], tile_at[i - a], tile_len[i - a])
            if err:
                return nums, s_at, s_len, err
        for f in range(nf):
            for i in range(a, b):
                nums[f, i] = tile[i - a, f]
        for f in range(n_strings):
            for i in range(a, b):
                s_at[f, i] = tile_at[i - a, f]
                s_len[f, i] = tile_len[i - a, f]
    return nums, s_at, s_len, OK


@njit_inline
def _utf8_char(buf: npt.NDArray[np.uint8], p: int, e: int) -> tuple[np.uint32, int]:
    """(code point, bytes) of the UTF-8 character at ``p``; bytes -1 for NUL, 0 for invalid UTF-8."""
    c = np.uint32(buf[p])
    if c == 0:
        return c, -1
    if c < 0x80:
        return c, 1
    if 0xC2 <= c < 0xE0:
        size, low, c = 2, 0x80, c & 0x1F
    elif 0xE0 <= c < 0xF0:
        size, low, c = 3, 0x800, c & 0x0F
    elif 0xF0 <= c < 0xF5:
        size, low, c = 4, 0x10000, c & 0x07
    else:
        return c, 0
    if p + size > e:
        return c, 0
    for b in range(1, size):
        cont = np.uint32(buf[p + b])
        if cont & 0xC0 != 0x80:
            return c, 0
        c = (c << 6) | (cont & 0x3F)
    if c < low or c > 0x10FFFF or 0xD800 <= c <= 0xDFFF:
        return c, 0
    return c, size


@njit
def utf8_codes(
    buf: npt.NDArray[np.uint8], at: npt.NDArray[np.int64], length: npt.NDArray[np.int64], width: int
) -> tuple[npt.NDArray[np.uint32], int, int]:
    """UTF-8 strings ``buf[at[i] : at[i] + length[i]]`` as NUL-padded code points (rows, width), the most
    code points of a row, and an error code (NUL, invalid or overlong UTF-8, surrogates)."""
    n = len(at)
    out = np.zeros((n, width), dtype=np.uint32)
    most = 0
    for i in range(n):
        p, e, j = at[i], at[i] + length[i], 0
        while p < e:
            if 0 < buf[p] < 0x80:  # ASCII: no function call
                out[i, j] = buf[p]
                j += 1
                p += 1
                continue
            c, size = _utf8_char(buf, p, e)
            if size <= 0:
                return out, most, NUL if size < 0 else BAD_UTF8
            out[i, j] = c
            j += 1
            p += size
        most = max(most, j)
    return out, most, OK


def warm() -> None:
    """Compile (or load from the disk cache) every kernel now, on one tiny row: a worker calls this at
    start-up, so its first large batch does not pay the 0.3-0.5 s (cached) or 3-4 s (cold) CPU."""
    kinds = np.array([VARINT, F8, F4, BOOL, STR], dtype=np.int64)
    codes = np.array([[0x65]], dtype=np.uint32)
    body, starts, _ = encode_rows(
        kinds, np.zeros((1, 5), dtype=np.uint64), codes, np.full(5, 0), np.full(5, 1), 32
    )
    buf = np.frombuffer(body.tobytes(), dtype=np.uint8)  # read-only, as readers pass message bytes
    _, s_at, s_len, _ = decode_rows(buf, starts[:1], starts[1:], kinds, 1)
    utf8_codes(buf, s_at[0], s_len[0], 1)
