"""Soak: run the atheris harness (tests/policy/fuzz_parser.py) over many inputs; only with `-m soak`."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

HARNESS = Path(__file__).with_name("fuzz_parser.py")
SEEDS = [
    {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "kms:*", "Resource": "*"}},
    {"Effect": "Deny", "NotPrincipal": {"AWS": ["111122223333"]}, "NotAction": "kms:Decrypt", "Resource": "*"},
    {
        "Sid": "Cond",
        "Effect": "Allow",
        "Principal": "*",
        "Action": ["kms:Encrypt", "kms:Re*"],
        "Resource": "arn:aws:kms:*:111122223333:key/*",
        "Condition": {
            "ForAnyValue:StringLike": {"kms:EncryptionContextKeys": ["a*", "${aws:username}"]},
            "IpAddress": {"aws:SourceIp": "10.0.0.0/8"},
            "DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"},
            "Null": {"aws:TokenIssueTime": "true"},
        },
    },
]


@pytest.mark.soak
def test_parser_survives_fuzzing(tmp_path: Path) -> None:
    assert importlib.util.find_spec("atheris") is not None, "the soak fuzz job needs atheris: pip install atheris"
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for index, seed in enumerate(SEEDS):
        # The harness reads one byte for the policy kind, then the document.
        (corpus / f"seed{index}").write_bytes(bytes([index]) + json.dumps(seed).encode())
    done = subprocess.run(
        [sys.executable, str(HARNESS), "-runs=200000", "-max_total_time=240", "-rss_limit_mb=2048", str(corpus)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-4000:]
