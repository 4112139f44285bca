"""The canonical encryption-context encoding: known bytes, order independence, and injectivity."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kmsd.crypto import canonical_encryption_context

contexts = st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=5)


def test_known_encoding() -> None:
    # count=2, then ("a", "1"), ("b", "22") sorted by key; every length a big-endian uint32.
    expected = b"\x00\x00\x00\x02" + b"\x00\x00\x00\x01a\x00\x00\x00\x011" + b"\x00\x00\x00\x01b\x00\x00\x00\x0222"
    assert canonical_encryption_context({"b": "22", "a": "1"}) == expected


def test_empty_and_missing_context_are_the_same() -> None:
    # KMS treats "no EncryptionContext" and "{}" alike: both decrypt the same ciphertexts.
    assert canonical_encryption_context({}) == canonical_encryption_context(None) == b"\x00\x00\x00\x00"


def test_length_prefixes_keep_moved_boundaries_apart() -> None:
    # The collision moto's unprefixed join allows: {"ab": "c"} vs {"a": "bc"}.
    assert canonical_encryption_context({"ab": "c"}) != canonical_encryption_context({"a": "bc"})
    assert canonical_encryption_context({"a": "b", "c": "d"}) != canonical_encryption_context({"a": "bcd"})


def test_keys_sort_by_utf8_bytes_not_code_units() -> None:
    # U+10000 (UTF-16 D800 DC00) sorts before U+FF61 in UTF-16 code units, after it in UTF-8 bytes.
    encoded = canonical_encryption_context({"\U00010000": "x", "\uff61": "y"})
    assert encoded.index("\uff61".encode()) < encoded.index("\U00010000".encode())


def test_lone_surrogates_encode_instead_of_raising() -> None:
    assert canonical_encryption_context({"\ud800": "v"}) != canonical_encryption_context({"\udc00": "v"})


@given(contexts)
def test_order_of_insertion_does_not_matter(ctx: dict[str, str]) -> None:
    reversed_ctx = dict(reversed(list(ctx.items())))
    assert canonical_encryption_context(reversed_ctx) == canonical_encryption_context(ctx)


@given(contexts, contexts)
def test_distinct_contexts_encode_distinctly(first: dict[str, str], second: dict[str, str]) -> None:
    if first != second:
        assert canonical_encryption_context(first) != canonical_encryption_context(second)
    else:
        assert canonical_encryption_context(first) == canonical_encryption_context(second)


@given(contexts)
def test_encoding_decodes_back(ctx: dict[str, str]) -> None:
    # Injectivity, shown constructively: an independent reader recovers the exact map.
    data = canonical_encryption_context(ctx)
    count, offset = int.from_bytes(data[:4], "big"), 4
    decoded: dict[str, str] = {}
    for _ in range(count):
        fields = []
        for _ in range(2):
            length = int.from_bytes(data[offset : offset + 4], "big")
            fields.append(data[offset + 4 : offset + 4 + length].decode("utf-8", "surrogatepass"))
            offset += 4 + length
        decoded[fields[0]] = fields[1]
    assert offset == len(data)
    assert decoded == ctx
