"""Accounts and their root users' access keys.

An account is a 12-digit id; its root user signs with a long-term access key
(``AKIA`` + 16 characters) whose secret is stored wrapped under the root key,
so a copy of the database alone does not hand out credentials.  The first
start of a server on an empty store creates the default account
``000000000000`` and shows its root credentials once; ``kmsd accounts create``
adds more, whether or not a server is running on the same store.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

from kmsd.clock import Clock
from kmsd.crypto import RandomSource, RootKey
from kmsd.errors import AwsError
from kmsd.store.base import Conflict, Store
from kmsd.store.models import AccessKeyRecord, Account

DEFAULT_ACCOUNT_ID = "000000000000"
_ACCOUNT_ID = re.compile(r"[0-9]{12}")
# AWS access key ids use the upper-case base32 alphabet after the 4-character prefix.
_KEY_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_DEFAULT_ACCOUNT_SETTING = "default_account_initialised"


@dataclass(frozen=True)
class RootCredentials:
    account_id: str
    access_key_id: str
    secret_access_key: str

    def to_json(self) -> dict[str, str]:
        return {
            "AccountId": self.account_id,
            "AccessKeyId": self.access_key_id,
            "SecretAccessKey": self.secret_access_key,
        }


def secret_purpose(access_key_id: str) -> bytes:
    """What a wrapped secret is bound to, so one key's wrapped secret can't stand in for another's."""
    return b"kmsd/access-key-secret/" + access_key_id.encode("ascii")


def is_account_id(value: str) -> bool:
    return _ACCOUNT_ID.fullmatch(value) is not None


def new_access_key_id(rng: RandomSource, prefix: str = "AKIA") -> str:
    return prefix + "".join(_KEY_ID_ALPHABET[b % 32] for b in rng.bytes(16))


def new_secret_access_key(rng: RandomSource) -> str:
    # 30 random bytes give AWS's 40-character secret length.
    return base64.b64encode(rng.bytes(30)).decode("ascii")


class AccountDirectory:
    """Creates accounts and root access keys in a store."""

    def __init__(self, store: Store, root_key: RootKey, clock: Clock, rng: RandomSource) -> None:
        self._store = store
        self._root_key = root_key
        self._clock = clock
        self._rng = rng

    def create(self, account_id: str) -> RootCredentials:
        """Create ``account_id`` with a new root access key; AlreadyExists if it exists."""
        if not is_account_id(account_id):
            raise AwsError("ValidationException", f"Account id '{account_id}' must be 12 digits.")
        with self._store.transaction():
            if self._store.get_account(account_id) is not None:
                raise AwsError("EntityAlreadyExists", f"Account {account_id} already exists.", 409)
            try:
                self._store.create_account(Account(account_id, self._clock.now()))
            except Conflict:
                raise AwsError("EntityAlreadyExists", f"Account {account_id} already exists.", 409) from None
            return self._add_root_key(account_id)

    def ensure(self, account_id: str) -> None:
        """Create the account record without credentials if it is missing (``--dev`` accounts)."""
        if self._store.get_account(account_id) is not None:
            return
        try:
            with self._store.transaction():
                if self._store.get_account(account_id) is None:
                    self._store.create_account(Account(account_id, self._clock.now()))
        except Conflict:
            return  # another process created it first, which is what we wanted

    def initialise_default(self) -> RootCredentials | None:
        """On a store's first start, create the default account; return its credentials only then."""
        with self._store.transaction():
            if self._store.get_setting(_DEFAULT_ACCOUNT_SETTING) is not None:
                return None
            self._store.set_setting(_DEFAULT_ACCOUNT_SETTING, self._clock.now().isoformat())
            if self._store.get_account(DEFAULT_ACCOUNT_ID) is not None:
                return None
            self._store.create_account(Account(DEFAULT_ACCOUNT_ID, self._clock.now()))
            return self._add_root_key(DEFAULT_ACCOUNT_ID)

    def list(self) -> list[Account]:
        return self._store.list_accounts()

    def root_keys(self, account_id: str) -> tuple[AccessKeyRecord, ...]:
        """The access keys of ``account_id``'s root user (records only: a secret is shown once, at creation)."""
        if self._store.get_account(account_id) is None:
            raise AwsError("NoSuchEntity", f"Account {account_id} does not exist.", 404)
        return tuple(key for key in self._store.list_access_keys(account_id) if _is_root_key(key))

    def rotate_root_key(self, account_id: str) -> RootCredentials:
        """Give ``account_id``'s root user a new access key and delete its old ones (lost credentials).

        One transaction: a server on the same store sees the commit through its change check, so the new
        key signs at once and the old one is refused from the next request on.
        """
        if not is_account_id(account_id):
            raise AwsError("ValidationException", f"Account id '{account_id}' must be 12 digits.")
        with self._store.transaction():
            if self._store.get_account(account_id) is None:
                raise AwsError("NoSuchEntity", f"Account {account_id} does not exist.", 404)
            for record in self._store.list_access_keys(account_id):
                if _is_root_key(record):
                    self._store.delete_access_key(record.access_key_id)
            return self._add_root_key(account_id)

    def _add_root_key(self, account_id: str) -> RootCredentials:
        access_key_id = new_access_key_id(self._rng)
        secret = new_secret_access_key(self._rng)
        self._store.put_access_key(
            AccessKeyRecord(
                access_key_id=access_key_id,
                account_id=account_id,
                principal_arn=f"arn:aws:iam::{account_id}:root",
                wrapped_secret=self._root_key.wrap(secret.encode("ascii"), secret_purpose(access_key_id)),
                status="Active",
                created_at=self._clock.now(),
            )
        )
        return RootCredentials(account_id, access_key_id, secret)


def _is_root_key(record: AccessKeyRecord) -> bool:
    return record.user_id is None and record.principal_arn.endswith(":root")
