"""PKCS#11 modules, tokens and logged-in sessions: where the keys of AWS_CLOUDHSM key stores are made and used.

A :class:`Pkcs11Module` is one PKCS#11 library (``kmsd serve --pkcs11-module
PATH``), loaded through ``python-pkcs11`` on first use, so a server without
the optional ``hsm`` extra starts and answers every other call.  A token is
named by its label (kmsd's mapping of ``CloudHsmClusterId``); logging in with
the user PIN (``KeyStorePassword``) gives a :class:`TokenSession`.  PKCS#11
keeps one login state per token and application ("CKR_USER_ALREADY_LOGGED_IN"
for a second login), so the process holds at most one session per token:
:class:`TokenDirectory` keeps them, and one lock per session serialises its
use, because a PKCS#11 session runs one operation at a time.  Modules such as
SoftHSM2 list their tokens once, when initialized: a token looked for in vain
makes the module look again (finalize, initialize), but only while the process
holds no session, so that no key in use ever loses its session.

Keys are generated inside the token as AES-256 secret keys that are token
objects, private, sensitive and not extractable, usable to encrypt and
decrypt and for nothing else (no wrapping, no derivation), labelled with the
KMS key id.  Nothing here ever reads a key's value, and the PIN is held only
by the login itself.

Every failure to reach or log in to a token is a :class:`TokenError` carrying
the ConnectionErrorCode AWS reports for the like failure of a CloudHSM
cluster: a token that is not there is ``CLUSTER_NOT_FOUND``, a wrong PIN
``INVALID_CREDENTIALS``, a locked PIN ``USER_LOCKED_OUT``, a token whose user
PIN was never set ``USER_NOT_FOUND``, anything else (no module, no binding, a
device error) ``INTERNAL_ERROR``.  Its text is for the operator and never
holds the PIN.  A ciphertext the token will not open is the opaque
:class:`~kmsd.crypto.CryptoError`.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from typing import Any

from kmsd.crypto import CryptoError

CLUSTER_NOT_FOUND = "CLUSTER_NOT_FOUND"
INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
USER_LOCKED_OUT = "USER_LOCKED_OUT"
USER_NOT_FOUND = "USER_NOT_FOUND"
INTERNAL_ERROR = "INTERNAL_ERROR"

AES_KEY_BITS = 256
GCM_TAG_BITS = 128


class TokenError(Exception):
    """A token could not be reached or logged in to; ``connection_error_code`` is AWS's ConnectionErrorCode."""

    def __init__(self, connection_error_code: str, detail: str) -> None:
        super().__init__(detail)
        self.connection_error_code = connection_error_code


MISSING_BINDING = "custom key stores need the python-pkcs11 package: pip install 'kmsd[hsm]'"


def binding_available() -> bool:
    """Whether python-pkcs11 can be imported (it is the optional ``hsm`` extra)."""
    try:
        _binding()
    except TokenError:
        return False
    return True


def _binding() -> Any:
    """The ``pkcs11`` package (python-pkcs11), imported only when a token is used."""
    try:
        import pkcs11
    except ImportError:
        raise TokenError(INTERNAL_ERROR, MISSING_BINDING) from None
    return pkcs11


class Pkcs11Module:
    """One PKCS#11 library, loaded on first use; thread-safe."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._library: Any = None
        self._lock = threading.Lock()

    def _lib(self) -> Any:
        with self._lock:
            if self._library is None:
                pkcs11 = _binding()
                try:
                    self._library = pkcs11.lib(self.path)
                except pkcs11.PKCS11Error:
                    raise TokenError(INTERNAL_ERROR, f"cannot load the PKCS#11 module {self.path}") from None
            return self._library

    def _token(self, label: str) -> Any:
        pkcs11 = _binding()
        lib = self._lib()
        try:
            return lib.get_token(token_label=label)
        except pkcs11.exceptions.NoSuchToken:
            raise TokenError(CLUSTER_NOT_FOUND, f"the PKCS#11 module has no token labelled {label}") from None
        except pkcs11.exceptions.MultipleTokensReturned:
            raise TokenError(INTERNAL_ERROR, f"the PKCS#11 module has several tokens labelled {label}") from None
        except pkcs11.PKCS11Error as error:
            raise TokenError(INTERNAL_ERROR, f"cannot list the tokens: {type(error).__name__}") from None

    def rescan(self) -> None:
        """Finalize and initialize the module again, so that it lists the tokens it has now.

        Modules such as SoftHSM2 list their tokens when they are initialized; a token made since is found only
        after this.  Every session of the module ends: callers do it only while they hold none.
        """
        with self._lock:
            if self._library is None:
                return
            try:
                self._library.reinitialize()
            except _binding().PKCS11Error:
                raise TokenError(INTERNAL_ERROR, f"cannot initialize the PKCS#11 module {self.path} again") from None

    def has_token(self, label: str) -> bool:
        """Whether a token with this label is present (TokenError when the module cannot be used at all)."""
        try:
            self._token(label)
        except TokenError as error:
            if error.connection_error_code == CLUSTER_NOT_FOUND:
                return False
            raise
        return True

    def login(self, label: str, pin: str) -> TokenSession:
        """A read-write session on the token, logged in as its user with ``pin``."""
        pkcs11 = _binding()
        token = self._token(label)
        exceptions = pkcs11.exceptions
        try:
            session = token.open(rw=True, user_pin=pin)
        except (exceptions.PinIncorrect, exceptions.PinInvalid, exceptions.PinLenRange):
            raise TokenError(
                INVALID_CREDENTIALS, f"the user PIN of token {label} is not the key store password"
            ) from None
        except exceptions.PinLocked:
            raise TokenError(USER_LOCKED_OUT, f"the user PIN of token {label} is locked") from None
        except exceptions.UserPinNotInitialized:
            raise TokenError(USER_NOT_FOUND, f"token {label} has no user PIN") from None
        except pkcs11.PKCS11Error as error:
            raise TokenError(INTERNAL_ERROR, f"cannot log in to token {label}: {type(error).__name__}") from None
        return TokenSession(session, label)


@dataclass(frozen=True)
class KeyFacts:
    """What the token says of a secret key someone else made (an external key store's key): its type,
    size and allowed uses, never its value."""

    aes: bool
    bits: int
    encrypt: bool
    decrypt: bool

    @property
    def fits_aes_gcm_256(self) -> bool:
        return self.aes and self.bits == AES_KEY_BITS and self.encrypt and self.decrypt


class TokenSession:
    """A logged-in session on one token; its methods may be called from any thread, one at a time."""

    def __init__(self, session: Any, token_label: str) -> None:
        self._session = session
        self.token_label = token_label
        self._lock = threading.Lock()
        self._keys: dict[str, Any] = {}  # object label -> key handle, valid for the session's life
        self._pkcs11 = _binding()
        self.closed = False

    def generate_key(self, object_label: str) -> None:
        """Make an AES-256 key inside the token that can never leave it (see the module docstring)."""
        pkcs11 = self._pkcs11
        attribute = pkcs11.Attribute
        template = {
            attribute.TOKEN: True,
            attribute.PRIVATE: True,
            attribute.SENSITIVE: True,
            attribute.EXTRACTABLE: False,
            attribute.ENCRYPT: True,
            attribute.DECRYPT: True,
            attribute.WRAP: False,
            attribute.UNWRAP: False,
            attribute.SIGN: False,
            attribute.VERIFY: False,
            attribute.DERIVE: False,
        }
        with self._lock:
            try:
                key = self._session.generate_key(
                    pkcs11.KeyType.AES,
                    AES_KEY_BITS,
                    id=object_label.encode(),
                    label=object_label,
                    store=True,
                    template=template,
                )
            except pkcs11.PKCS11Error as error:
                raise TokenError(
                    INTERNAL_ERROR, f"token {self.token_label} cannot generate a key: {type(error).__name__}"
                ) from None
            self._keys[object_label] = key

    def has_key(self, object_label: str) -> bool:
        with self._lock:
            return self._find(object_label) is not None

    def key_facts(self, object_label: str) -> KeyFacts | None:
        """The type, size and uses of the one secret key labelled ``object_label``; None when there is none."""
        pkcs11 = self._pkcs11
        attribute = pkcs11.Attribute
        with self._lock:
            key = self._find(object_label)
            if key is None:
                return None
            try:
                aes = key[attribute.KEY_TYPE] == pkcs11.KeyType.AES
                # CKA_VALUE_LEN is in bytes.
                bits = int(key[attribute.VALUE_LEN]) * 8 if aes else 0
                return KeyFacts(aes, bits, bool(key[attribute.ENCRYPT]), bool(key[attribute.DECRYPT]))
            except pkcs11.PKCS11Error as error:
                raise TokenError(
                    INTERNAL_ERROR, f"token {self.token_label} cannot describe a key: {type(error).__name__}"
                ) from None

    def encrypt(self, object_label: str, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        """AES-GCM in the token: ``ciphertext || tag``; TokenError when the key or token cannot be used."""
        pkcs11 = self._pkcs11
        with self._lock:
            key = self._require(object_label)
            try:
                return bytes(
                    key.encrypt(plaintext, mechanism=pkcs11.Mechanism.AES_GCM, mechanism_param=self._gcm(nonce, aad))
                )
            except pkcs11.PKCS11Error as error:
                raise TokenError(
                    INTERNAL_ERROR, f"token {self.token_label} cannot encrypt: {type(error).__name__}"
                ) from None

    def decrypt(self, object_label: str, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
        """The plaintext of ``ciphertext || tag``: CryptoError when it does not authenticate."""
        pkcs11 = self._pkcs11
        with self._lock:
            key = self._require(object_label)
            try:
                return bytes(
                    key.decrypt(sealed, mechanism=pkcs11.Mechanism.AES_GCM, mechanism_param=self._gcm(nonce, aad))
                )
            except pkcs11.PKCS11Error:
                # Tokens report a bad tag in different ways (SoftHSM2: CKR_GENERAL_ERROR); all are one answer.
                raise CryptoError() from None

    def random(self, number_of_bytes: int) -> bytes:
        """Random bytes from the token's generator."""
        pkcs11 = self._pkcs11
        with self._lock:
            try:
                return bytes(self._session.generate_random(number_of_bytes * 8))
            except pkcs11.PKCS11Error as error:
                raise TokenError(
                    INTERNAL_ERROR, f"token {self.token_label} cannot generate random bytes: {type(error).__name__}"
                ) from None

    def destroy_key(self, object_label: str) -> bool:
        """Destroy the key object; whether there was one."""
        pkcs11 = self._pkcs11
        with self._lock:
            key = self._find(object_label)
            if key is None:
                return False
            try:
                key.destroy()
            except pkcs11.PKCS11Error as error:
                raise TokenError(
                    INTERNAL_ERROR, f"token {self.token_label} cannot destroy a key: {type(error).__name__}"
                ) from None
            self._keys.pop(object_label, None)
            return True

    def close(self) -> None:
        with self._lock:
            if self.closed:
                return
            self.closed = True
            self._keys.clear()
            # A token that went away has closed the session already.
            with contextlib.suppress(self._pkcs11.PKCS11Error):
                self._session.close()

    def _gcm(self, nonce: bytes, aad: bytes) -> Any:
        return self._pkcs11.mechanisms.GCMParams(nonce, aad, GCM_TAG_BITS)

    def _find(self, object_label: str) -> Any:
        """The key object labelled ``object_label``, or None; the caller holds the lock."""
        cached = self._keys.get(object_label)
        if cached is not None:
            return cached
        pkcs11 = self._pkcs11
        try:
            found = list(
                self._session.get_objects(
                    {pkcs11.Attribute.CLASS: pkcs11.ObjectClass.SECRET_KEY, pkcs11.Attribute.LABEL: object_label}
                )
            )
        except pkcs11.PKCS11Error as error:
            raise TokenError(
                INTERNAL_ERROR, f"token {self.token_label} cannot be searched: {type(error).__name__}"
            ) from None
        if len(found) != 1:
            return None
        self._keys[object_label] = found[0]
        return found[0]

    def _require(self, object_label: str) -> Any:
        key = self._find(object_label)
        if key is None:
            raise TokenError(INTERNAL_ERROR, f"token {self.token_label} holds no key labelled {object_label}")
        return key


class TokenDirectory:
    """The sessions this process holds, one per token label, opened on demand with the key store's PIN.

    ``module`` is None when ``kmsd serve`` was started without ``--pkcs11-module``.
    """

    def __init__(self, module: Pkcs11Module | None) -> None:
        self.module = module
        self._sessions: dict[str, tuple[bytes, TokenSession]] = {}
        self._lock = threading.Lock()

    def require_module(self) -> Pkcs11Module:
        if self.module is None:
            raise TokenError(INTERNAL_ERROR, "kmsd serve was started without --pkcs11-module")
        return self.module

    def session(self, label: str, pin: str, credential_tag: bytes) -> TokenSession:
        """The session on token ``label``, logging in with ``pin`` unless one logged in under ``credential_tag``
        (the key store's stored, wrapped password: it changes when the password or the store does) is open."""
        with self._lock:
            held = self._sessions.get(label)
            if held is not None and held[0] == credential_tag and not held[1].closed:
                return held[1]
            if held is not None:
                held[1].close()
                del self._sessions[label]
            module = self.require_module()
            try:
                session = module.login(label, pin)
            except TokenError as error:
                if error.connection_error_code != CLUSTER_NOT_FOUND or self._sessions:
                    raise
                # Perhaps the token was made after the module listed its tokens; nothing is open to lose.
                module.rescan()
                session = module.login(label, pin)
            self._sessions[label] = (credential_tag, session)
            return session

    def has_token(self, label: str) -> bool:
        """Whether the module has a token labelled ``label``, looking again (:meth:`Pkcs11Module.rescan`) when
        it lists none and no session of this process would end."""
        module = self.require_module()
        if module.has_token(label):
            return True
        with self._lock:
            if self._sessions:
                return False
            module.rescan()
        return module.has_token(label)

    def check_login(self, label: str, pin: str, credential_tag: bytes) -> None:
        """Log in afresh (ConnectCustomKeyStore): TokenError with the reason when the token or PIN is wrong."""
        self.close(label)
        self.session(label, pin, credential_tag)

    def labels(self) -> list[str]:
        """The tokens this process holds a session on."""
        with self._lock:
            return list(self._sessions)

    def close(self, label: str) -> None:
        """Close and forget the session on token ``label``, if this process holds one."""
        with self._lock:
            held = self._sessions.pop(label, None)
        if held is not None:
            held[1].close()

    def close_all(self) -> None:
        with self._lock:
            held = list(self._sessions.values())
            self._sessions.clear()
        for _, session in held:
            session.close()
