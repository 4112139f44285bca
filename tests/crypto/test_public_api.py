"""kmsd.crypto exports exactly the names other packages are meant to use."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import kmsd.crypto


def test_public_names() -> None:
    assert set(kmsd.crypto.__all__) == {
        "ROOT_KEY_ENV",
        "BlobCipher",
        "CiphertextBlob",
        "CryptoError",
        "FileRootKey",
        "KeySpec",
        "RandomSource",
        "RootKey",
        "RootKeyError",
        "SeededRandomSource",
        "SymmetricKey",
        "SystemRandomSource",
        "canonical_encryption_context",
        "decrypt_symmetric",
        "encrypt_symmetric",
        "new_material_id",
        "new_symmetric_material",
    }
    assert all(hasattr(kmsd.crypto, name) for name in kmsd.crypto.__all__)


def test_crypto_imports_only_the_standard_library_and_cryptography() -> None:
    # cbor2 and asn1crypto only encode and decode (attestation documents, CMS); every primitive is cryptography's.
    allowed = set(sys.stdlib_module_names) | {"cryptography", "kmsd", "cbor2", "asn1crypto"}
    for module in Path(kmsd.crypto.__file__).parent.glob("*.py"):
        tree = ast.parse(module.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                roots = {node.module.split(".")[0]}
                if roots == {"kmsd"}:
                    assert node.module.startswith("kmsd.crypto"), f"{module.name} imports {node.module}"
            else:
                continue
            assert roots <= allowed, f"{module.name} imports {roots - allowed}"
