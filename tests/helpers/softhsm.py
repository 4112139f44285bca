"""SoftHSM2 tokens of a test's own: a configuration and token directory in a temporary folder, tokens
initialised with ``softhsm2-util``, and a look at a key object from outside kmsd with python-pkcs11.

SoftHSM2 must be installed (``make test`` installs the Debian package softhsm2): a missing module or
``softhsm2-util`` fails the tests that use it, it never skips them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.integration.server import KmsdServer

MODULE_CANDIDATES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",
)
SO_PIN = "so-pin-5678"

# Run in a child process so that the test process never loads a PKCS#11 module of its own configuration.
_INSPECT = """
import json, sys
import pkcs11
from pkcs11 import Attribute, ObjectClass
module, token_label, pin, object_label = sys.argv[1:5]
token = pkcs11.lib(module).get_token(token_label=token_label)
with token.open(user_pin=pin) as session:
    found = list(session.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.LABEL: object_label}))
    if not found:
        print(json.dumps({"found": False}))
        sys.exit(0)
    key = found[0]
    facts = {"found": True, "key_bits": key.key_length}
    for name in ("SENSITIVE", "EXTRACTABLE", "ALWAYS_SENSITIVE", "NEVER_EXTRACTABLE", "TOKEN", "PRIVATE", "WRAP"):
        facts[name] = bool(key[getattr(Attribute, name)])
    try:
        key[Attribute.VALUE]
        facts["value_readable"] = True
    except pkcs11.exceptions.AttributeSensitive:
        facts["value_readable"] = False
    print(json.dumps(facts))
"""


# The operator's side of an external key store: an AES key made in the token by hand, as kmsd's docs describe.
_MAKE_KEY = """
import sys
import pkcs11
from pkcs11 import Attribute, KeyType
module, token_label, pin, object_label, bits, decrypt = sys.argv[1:7]
token = pkcs11.lib(module).get_token(token_label=token_label)
with token.open(rw=True, user_pin=pin) as session:
    template = {Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False, Attribute.ENCRYPT: True,
                Attribute.DECRYPT: decrypt == "yes", Attribute.PRIVATE: True}
    session.generate_key(KeyType.AES, int(bits), label=object_label, store=True, template=template)
"""


def softhsm_module() -> str:
    """The path of SoftHSM2's PKCS#11 module; AssertionError (a failure, not a skip) when it is not installed."""
    for candidate in MODULE_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    raise AssertionError("SoftHSM2 is not installed (libsofthsm2.so not found): `make test` installs softhsm2")


@dataclass(frozen=True)
class SoftHsm:
    """One SoftHSM2 configuration whose tokens live under ``directory``."""

    directory: Path
    module: str

    @property
    def config(self) -> Path:
        return self.directory / "softhsm2.conf"

    @property
    def env(self) -> dict[str, str]:
        return {"SOFTHSM2_CONF": str(self.config)}

    def server(self, data_dir: Path, store_url: str) -> KmsdServer:
        """A ``kmsd serve`` (not started yet) on ``store_url`` whose PKCS#11 module is this SoftHSM2."""
        return KmsdServer(data_dir, store_url, extra_args=["--pkcs11-module", self.module], extra_env=self.env)

    def init_token(self, label: str, pin: str) -> None:
        utility = shutil.which("softhsm2-util")
        assert utility is not None, "softhsm2-util is not installed: `make test` installs softhsm2"
        subprocess.run(
            [utility, "--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", SO_PIN],
            env={**os.environ, **self.env},
            check=True,
            capture_output=True,
        )

    def key_object(self, token_label: str, pin: str, object_label: str) -> dict[str, Any]:
        """What the token says about the AES key labelled ``object_label``, read with python-pkcs11 from outside."""
        done = subprocess.run(
            [sys.executable, "-c", _INSPECT, self.module, token_label, pin, object_label],
            env={**os.environ, **self.env},
            check=True,
            capture_output=True,
            text=True,
        )
        facts: dict[str, Any] = json.loads(done.stdout)
        return facts

    def make_key(self, token_label: str, pin: str, object_label: str, *, bits: int = 256, decrypt: bool = True) -> None:
        """Make an AES key labelled ``object_label`` in the token from outside kmsd, as an operator would."""
        answer = ["yes" if decrypt else "no"]
        subprocess.run(
            [sys.executable, "-c", _MAKE_KEY, self.module, token_label, pin, object_label, str(bits), *answer],
            env={**os.environ, **self.env},
            check=True,
            capture_output=True,
        )


def new_softhsm(directory: Path) -> SoftHsm:
    """A SoftHSM2 configuration with its own, empty token directory under ``directory``."""
    tokens = directory / "tokens"
    tokens.mkdir(parents=True)
    config = directory / "softhsm2.conf"
    config.write_text(
        f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n"
    )
    return SoftHsm(directory, softhsm_module())
