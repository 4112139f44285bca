"""Issue 9, items 9, 10 and 16, attacked from outside: the root key bound to its store, deletion that leaves
nothing in the database files, and RotateKeyOnDemand's response.

The root-key tests start and stop real ``kmsd serve`` processes and run the ``kmsd`` command, with the
environment a user would have got wrong (no root-key file, another ``KMSD_ROOT_KEY``); each refusal must be
one line on stderr and a non-zero exit, and no second root-key file may appear.  The deletion test runs the
server in this process (as ``test_time.py`` does) so that it can move the clock past the deletion window,
then reads the raw bytes of ``kmsd.db``, ``kmsd.db-wal`` and ``kmsd.db-shm``.
"""

from __future__ import annotations

import base64
import os
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import uvicorn
from botocore.config import Config
from botocore.exceptions import ClientError

from kmsd.api.app import KmsdApp
from kmsd.clock import ManualClock
from kmsd.server import build_runtime, open_parts
from tests.integration.server import KMSD, KmsdServer, free_port

# --- item 16: RotateKeyOnDemand answers with the key ARN ---------------------------------------------------


def test_rotate_key_on_demand_returns_the_key_arn(kms: Any) -> None:
    metadata = kms.create_key()["KeyMetadata"]
    # By key id and by ARN alike, the response names the key by its ARN, as AWS's does.
    assert kms.rotate_key_on_demand(KeyId=metadata["KeyId"])["KeyId"] == metadata["Arn"]
    assert kms.rotate_key_on_demand(KeyId=metadata["Arn"])["KeyId"] == metadata["Arn"]
