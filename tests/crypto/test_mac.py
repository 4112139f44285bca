"""HMAC keys against RFC 4231's known answers (test cases 1, 2 and 6), and a failed check that says nothing."""

from __future__ import annotations

import pytest

from kmsd.crypto import CryptoError, SeededRandomSource
from kmsd.crypto.key_spec import key_spec
from kmsd.crypto.mac import generate_mac, new_hmac_material, verify_mac

# RFC 4231 section 4: (key, data, {algorithm: expected MAC}).
_CASES = [
    (
        bytes.fromhex("0b" * 20),
        b"Hi There",
        {
            "HMAC_SHA_224": "896fb1128abbdf196832107cd49df33f47b4b1169912ba4f53684b22",
            "HMAC_SHA_256": "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            "HMAC_SHA_384": "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59c"
            "faea9ea9076ede7f4af152e8b2fa9cb6",
            "HMAC_SHA_512": "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
            "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
        },
    ),
    (
        b"Jefe",
        b"what do ya want for nothing?",
        {
            "HMAC_SHA_224": "a30e01098bc6dbbf45690f3a7e9e6d0f8bbea2a39e6148008fd05e44",
            "HMAC_SHA_256": "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        },
    ),
    (
        bytes.fromhex("aa" * 131),
        b"Test Using Larger Than Block-Size Key - Hash Key First",
        {"HMAC_SHA_256": "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
    ),
]


@pytest.mark.parametrize(
    ("key", "data", "algorithm", "expected"),
    [(key, data, algorithm, mac) for key, data, macs in _CASES for algorithm, mac in macs.items()],
)
def test_rfc_4231_known_answers(key: bytes, data: bytes, algorithm: str, expected: str) -> None:
    assert generate_mac(key, algorithm, data).hex() == expected
    verify_mac(key, algorithm, data, bytes.fromhex(expected))


def test_a_wrong_mac_fails_opaquely() -> None:
    with pytest.raises(CryptoError):
        verify_mac(b"k" * 32, "HMAC_SHA_256", b"m", b"\x00" * 32)
    with pytest.raises(CryptoError):
        verify_mac(b"k" * 32, "HMAC_SHA_256", b"m", generate_mac(b"k" * 32, "HMAC_SHA_256", b"m")[:-1])


@pytest.mark.parametrize(("spec", "length"), [("HMAC_224", 28), ("HMAC_256", 32), ("HMAC_384", 48), ("HMAC_512", 64)])
def test_material_has_the_spec_key_size(spec: str, length: int) -> None:
    assert len(new_hmac_material(key_spec(spec), SeededRandomSource(1))) == length
