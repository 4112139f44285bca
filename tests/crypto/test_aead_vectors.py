"""NIST CAVP AES-256-GCM known-answer tests, run through :class:`kmsd.crypto.aead.Aes256Gcm`.

Every kmsd ciphertext, wrapped root-key value included, is sealed and opened
by ``Aes256Gcm``; these published vectors check that path byte for byte.
The vectors are a subset of ``gcmEncryptExtIV256.rsp`` kept in
``vectors/gcmEncryptExtIV256_subset.rsp`` (its header says where it comes from).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from kmsd.crypto import CryptoError
from kmsd.crypto.aead import Aes256Gcm

VECTORS = Path(__file__).parent / "vectors" / "gcmEncryptExtIV256_subset.rsp"


@dataclass(frozen=True)
class GcmVector:
    name: str
    key: bytes
    iv: bytes
    plaintext: bytes
    aad: bytes
    ciphertext: bytes
    tag: bytes


def load_rsp(path: Path) -> list[GcmVector]:
    """Parse CAVP .rsp: ``[Name = value]`` section headers, then ``Name = hex`` lines per case."""
    vectors: list[GcmVector] = []
    section: dict[str, str] = {}
    case: dict[str, str] = {}

    def flush() -> None:
        if case:
            vectors.append(
                GcmVector(
                    name=f"PTlen={section['PTlen']}-AADlen={section['AADlen']}-Count={case['Count']}",
                    key=bytes.fromhex(case["Key"]),
                    iv=bytes.fromhex(case["IV"]),
                    plaintext=bytes.fromhex(case["PT"]),
                    aad=bytes.fromhex(case["AAD"]),
                    ciphertext=bytes.fromhex(case["CT"]),
                    tag=bytes.fromhex(case["Tag"]),
                )
            )
            case.clear()

    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line.startswith("#"):
            continue
        if line.startswith("["):
            flush()
            name, _, value = line.strip("[]").partition(" = ")
            section[name] = value
        elif " =" in line:
            name, _, value = line.partition(" =")
            if name == "Count":
                flush()
            case[name] = value.strip()
    flush()
    return vectors


ALL_VECTORS = load_rsp(VECTORS)


def test_the_vector_file_holds_every_selected_case() -> None:
    # 7 sections x 2 cases; a parsing slip that drops cases would otherwise pass silently.
    assert len(ALL_VECTORS) == 14
    assert {len(vector.aad) for vector in ALL_VECTORS} == {0, 16, 20, 48, 90}
    assert {len(vector.plaintext) for vector in ALL_VECTORS} == {0, 13, 16, 32, 51}


@pytest.mark.parametrize("vector", ALL_VECTORS, ids=lambda vector: vector.name)
def test_seal_matches_nist(vector: GcmVector) -> None:
    sealed = Aes256Gcm(vector.key).seal(vector.iv, vector.plaintext, vector.aad)
    assert sealed == vector.ciphertext + vector.tag


@pytest.mark.parametrize("vector", ALL_VECTORS, ids=lambda vector: vector.name)
def test_open_matches_nist(vector: GcmVector) -> None:
    opened = Aes256Gcm(vector.key).open(vector.iv, vector.ciphertext + vector.tag, vector.aad)
    assert opened == vector.plaintext


@pytest.mark.parametrize("vector", ALL_VECTORS, ids=lambda vector: vector.name)
def test_open_rejects_a_changed_tag_or_aad(vector: GcmVector) -> None:
    cipher = Aes256Gcm(vector.key)
    bad_tag = vector.tag[:-1] + bytes([vector.tag[-1] ^ 0x01])
    with pytest.raises(CryptoError):
        cipher.open(vector.iv, vector.ciphertext + bad_tag, vector.aad)
    with pytest.raises(CryptoError):
        cipher.open(vector.iv, vector.ciphertext + vector.tag, vector.aad + b"\x00")
