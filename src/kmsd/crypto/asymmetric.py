"""RSA, elliptic-curve, Ed25519, ML-DSA and ML-KEM key pairs as KMS uses them: generate, sign and verify,
RSA-OAEP, ECDH, ML-KEM encapsulation.

The private key is kept as PKCS#8 DER (the bytes the KMS layer wraps under the
root key); :class:`AsymmetricKey` loads it and answers the operations of
Sign, Verify, Decrypt, DeriveSharedSecret, Encapsulate and Decapsulate, and
the DER SubjectPublicKeyInfo GetPublicKey returns.  Every primitive is
``cryptography``'s.  The choices that decide interoperability with AWS
(KMS Developer Guide, "Key spec reference"; Sign API reference):

- RSASSA-PSS uses MGF1 with the signing hash and a salt as long as the hash;
- ECDSA signatures are DER-encoded ``Ecdsa-Sig-Value`` (what OpenSSL and
  ``cryptography`` produce and verify);
- MessageType ``DIGEST`` signs the given hash without hashing it again, and
  the digest must be exactly the algorithm's hash length;
- RSAES-OAEP uses MGF1 with the same hash as OAEP and no label;
- ML-DSA (FIPS 204, ``ML_DSA_SHAKE_256``) signs a RAW message as pure ML-DSA
  with an empty context, and MessageType ``EXTERNAL_MU`` signs the 64-byte
  message representative mu as given;
- ``ED25519_SHA_512`` is pure Ed25519 (RFC 8032) over a RAW message;
  ``ED25519_PH_SHA_512`` (Ed25519ph) is not here: ``cryptography`` has no
  Ed25519ph, and the KMS layer refuses it;
- ML-KEM (FIPS 203) keys encapsulate with the public key and decapsulate with
  the private one; the shared secret is 32 bytes, and a ciphertext of the
  right length always decapsulates (implicit rejection), one of another
  length is a CryptoError.

A signature that does not verify, a ciphertext that does not decrypt and a
peer public key that cannot be used all raise the one opaque
:class:`~kmsd.crypto.errors.CryptoError`; the KMS layer names the AWS error.
Key generation draws from the operating system's randomness inside OpenSSL,
not from the injected :class:`~kmsd.crypto.RandomSource`: ``cryptography``
offers no way to pass one in.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, mlkem, padding, rsa, utils

from kmsd.crypto.errors import CryptoError
from kmsd.crypto.key_spec import KeySpec

# MessageType values (Sign API reference).
RAW = "RAW"
DIGEST = "DIGEST"
EXTERNAL_MU = "EXTERNAL_MU"
MU_BYTES = 64  # FIPS 204: mu is 512 bits
# The Edwards25519 signing algorithms (SigningAlgorithmSpec).
ED25519_SHA_512 = "ED25519_SHA_512"
ED25519_PH_SHA_512 = "ED25519_PH_SHA_512"

_CURVES: dict[str, type[ec.EllipticCurve]] = {
    "ECC_NIST_P256": ec.SECP256R1,
    "ECC_NIST_P384": ec.SECP384R1,
    "ECC_NIST_P521": ec.SECP521R1,
    "ECC_SECG_P256K1": ec.SECP256K1,
}
_RSA_BITS = {"RSA_2048": 2048, "RSA_3072": 3072, "RSA_4096": 4096}
_ML_DSA: dict[str, type[mldsa.MLDSA44PrivateKey | mldsa.MLDSA65PrivateKey | mldsa.MLDSA87PrivateKey]] = {
    "ML_DSA_44": mldsa.MLDSA44PrivateKey,
    "ML_DSA_65": mldsa.MLDSA65PrivateKey,
    "ML_DSA_87": mldsa.MLDSA87PrivateKey,
}
_ML_KEM: dict[str, type[mlkem.MLKEM768PrivateKey | mlkem.MLKEM1024PrivateKey]] = {
    "ML_KEM_768": mlkem.MLKEM768PrivateKey,
    "ML_KEM_1024": mlkem.MLKEM1024PrivateKey,
}
_ED25519 = "ECC_NIST_EDWARDS25519"
_MlDsaPrivate = mldsa.MLDSA44PrivateKey | mldsa.MLDSA65PrivateKey | mldsa.MLDSA87PrivateKey
_MlDsaPublic = mldsa.MLDSA44PublicKey | mldsa.MLDSA65PublicKey | mldsa.MLDSA87PublicKey
_MlKemPrivate = mlkem.MLKEM768PrivateKey | mlkem.MLKEM1024PrivateKey
_PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | _MlDsaPrivate | _MlKemPrivate
_PRIVATE_KEY_TYPES = (
    rsa.RSAPrivateKey,
    ec.EllipticCurvePrivateKey,
    ed25519.Ed25519PrivateKey,
    mldsa.MLDSA44PrivateKey,
    mldsa.MLDSA65PrivateKey,
    mldsa.MLDSA87PrivateKey,
    mlkem.MLKEM768PrivateKey,
    mlkem.MLKEM1024PrivateKey,
)
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"SHA_1": hashes.SHA1, "SHA_256": hashes.SHA256}
_HASHES.update({"SHA_384": hashes.SHA384, "SHA_512": hashes.SHA512})

# The specs this module generates keys for.
ASYMMETRIC_SPECS = frozenset(_CURVES) | frozenset(_RSA_BITS) | frozenset(_ML_DSA) | frozenset(_ML_KEM) | {_ED25519}


@dataclass(frozen=True)
class SigningScheme:
    """One SigningAlgorithm: its padding (RSA) or ECDSA, and its hash."""

    name: str
    hash: type[hashes.HashAlgorithm]
    pss: bool = False
    pkcs1: bool = False

    @property
    def digest_bytes(self) -> int:
        """The length a DIGEST message must have: the hash's output size."""
        return self.hash().digest_size


def signing_scheme(algorithm: str) -> SigningScheme:
    """The scheme of an RSA or ECDSA SigningAlgorithm name; KeyError for any other."""
    kind, _, hash_name = algorithm.partition("_SHA_")
    hash_type = _HASHES["SHA_" + hash_name]
    if kind == "RSASSA_PSS":
        return SigningScheme(algorithm, hash_type, pss=True)
    if kind == "RSASSA_PKCS1_V1_5":
        return SigningScheme(algorithm, hash_type, pkcs1=True)
    if kind == "ECDSA":
        return SigningScheme(algorithm, hash_type)
    raise KeyError(algorithm)


def new_private_key(spec: KeySpec) -> bytes:
    """A new private key of ``spec`` as PKCS#8 DER (unencrypted: the caller wraps it at once)."""
    key: _PrivateKey
    if spec.name in _RSA_BITS:
        key = rsa.generate_private_key(public_exponent=65537, key_size=_RSA_BITS[spec.name])
    elif spec.name in _ML_DSA:
        key = _ML_DSA[spec.name].generate()
    elif spec.name in _ML_KEM:
        key = _ML_KEM[spec.name].generate()
    elif spec.name == _ED25519:
        key = ed25519.Ed25519PrivateKey.generate()
    else:
        key = ec.generate_private_key(_CURVES[spec.name]())
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


class AsymmetricKey:
    """One private key (RSA, EC, Ed25519, ML-DSA, ML-KEM), loaded from its PKCS#8 DER, and what KMS does with it."""

    __slots__ = ("_key",)

    def __init__(self, private_der: bytes) -> None:
        try:
            # The RSA consistency check costs ~35 ms (2048) to ~250 ms (4096) per load, on every Sign and
            # Decrypt.  It is safe to skip: the DER was generated here and comes back only through the root
            # key's authenticated unwrap, bound to its key and version, so it cannot have been altered.
            key = serialization.load_der_private_key(private_der, password=None, unsafe_skip_rsa_key_validation=True)
        except ValueError:
            raise CryptoError() from None
        if not isinstance(key, _PRIVATE_KEY_TYPES):
            raise CryptoError()
        self._key: _PrivateKey = key

    def public_key_der(self) -> bytes:
        """The public key as a DER SubjectPublicKeyInfo (RFC 5280), as GetPublicKey returns it."""
        return self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, message: bytes, message_type: str, algorithm: str) -> bytes:
        if isinstance(self._key, (mldsa.MLDSA44PrivateKey, mldsa.MLDSA65PrivateKey, mldsa.MLDSA87PrivateKey)):
            return self._key.sign_mu(message) if message_type == EXTERNAL_MU else self._key.sign(message)
        if isinstance(self._key, ed25519.Ed25519PrivateKey):
            _require_pure_ed25519(message_type, algorithm)
            return self._key.sign(message)
        if isinstance(self._key, (mlkem.MLKEM768PrivateKey, mlkem.MLKEM1024PrivateKey)):
            raise CryptoError()
        scheme = signing_scheme(algorithm)
        data, chosen = _prepared(message, message_type, scheme)
        if isinstance(self._key, rsa.RSAPrivateKey):
            return self._key.sign(data, _rsa_padding(scheme), chosen)
        return self._key.sign(data, ec.ECDSA(chosen))

    def verify(self, message: bytes, message_type: str, algorithm: str, signature: bytes) -> None:
        """Return if ``signature`` is valid; CryptoError if not (or if it is not even well formed)."""
        public = self._key.public_key()
        if isinstance(public, (mldsa.MLDSA44PublicKey, mldsa.MLDSA65PublicKey, mldsa.MLDSA87PublicKey)):
            _verify_ml_dsa(public, message, message_type, signature)
            return
        if isinstance(public, (mlkem.MLKEM768PublicKey, mlkem.MLKEM1024PublicKey)):
            raise CryptoError()
        try:
            if isinstance(public, ed25519.Ed25519PublicKey):
                _require_pure_ed25519(message_type, algorithm)
                public.verify(signature, message)
                return
            scheme = signing_scheme(algorithm)
            data, chosen = _prepared(message, message_type, scheme)
            if isinstance(public, rsa.RSAPublicKey):
                public.verify(signature, data, _rsa_padding(scheme), chosen)
            else:
                public.verify(signature, data, ec.ECDSA(chosen))
        except InvalidSignature:
            raise CryptoError() from None

    def decrypt(self, ciphertext: bytes, algorithm: str) -> bytes:
        """RSAES-OAEP decryption; CryptoError for any ciphertext that does not decrypt."""
        if not isinstance(self._key, rsa.RSAPrivateKey):
            raise CryptoError()
        try:
            return self._key.decrypt(ciphertext, _oaep(algorithm))
        except ValueError:
            raise CryptoError() from None

    def encrypt(self, plaintext: bytes, algorithm: str) -> bytes:
        """RSAES-OAEP encryption with the public key; the caller has checked the plaintext's length."""
        public = self._key.public_key()
        if not isinstance(public, rsa.RSAPublicKey):
            raise CryptoError()
        return public.encrypt(plaintext, _oaep(algorithm))

    def derive_shared_secret(self, peer_public_der: bytes) -> bytes:
        """ECDH with the peer's DER SubjectPublicKeyInfo on the same curve: the raw shared secret (the
        x-coordinate, as "DeriveSharedSecret" returns it); CryptoError for a peer key that cannot be used."""
        if not isinstance(self._key, ec.EllipticCurvePrivateKey):
            raise CryptoError()
        try:
            peer = serialization.load_der_public_key(peer_public_der)
        except (ValueError, TypeError):
            raise CryptoError() from None
        if not isinstance(peer, ec.EllipticCurvePublicKey) or peer.curve.name != self._key.curve.name:
            raise CryptoError()
        return self._key.exchange(ec.ECDH(), peer)

    def encapsulate(self) -> tuple[bytes, bytes]:
        """ML-KEM encapsulation with the public key: (32-byte shared secret, its ciphertext)."""
        if not isinstance(self._key, (mlkem.MLKEM768PrivateKey, mlkem.MLKEM1024PrivateKey)):
            raise CryptoError()
        return self._key.public_key().encapsulate()

    def decapsulate(self, ciphertext: bytes) -> bytes:
        """ML-KEM decapsulation: the 32-byte shared secret.  FIPS 203's implicit rejection answers a
        ciphertext of the right length that was altered or made for another key with a pseudo-random secret;
        only a ciphertext of another length is a CryptoError."""
        if not isinstance(self._key, (mlkem.MLKEM768PrivateKey, mlkem.MLKEM1024PrivateKey)):
            raise CryptoError()
        try:
            return self._key.decapsulate(ciphertext)
        except ValueError:
            raise CryptoError() from None


def _require_pure_ed25519(message_type: str, algorithm: str) -> None:
    # Only pure Ed25519 over a RAW message: `cryptography` has no Ed25519ph (ED25519_PH_SHA_512).
    if algorithm != ED25519_SHA_512 or message_type != RAW:
        raise CryptoError()


def _verify_ml_dsa(public: _MlDsaPublic, message: bytes, message_type: str, signature: bytes) -> None:
    try:
        if message_type == EXTERNAL_MU:
            public.verify_mu(signature, message)
        else:
            public.verify(signature, message)
    except InvalidSignature:
        raise CryptoError() from None


def _prepared(
    message: bytes, message_type: str, scheme: SigningScheme
) -> tuple[bytes, hashes.HashAlgorithm | utils.Prehashed]:
    if message_type == DIGEST:
        if len(message) != scheme.digest_bytes:
            raise ValueError("digest length")
        return message, utils.Prehashed(scheme.hash())
    return message, scheme.hash()


def _rsa_padding(scheme: SigningScheme) -> padding.AsymmetricPadding:
    if scheme.pss:
        # AWS: PSS with MGF1 over the signing hash and a salt the length of the hash.
        return padding.PSS(mgf=padding.MGF1(scheme.hash()), salt_length=padding.PSS.DIGEST_LENGTH)
    if scheme.pkcs1:
        return padding.PKCS1v15()
    raise CryptoError()


def _oaep(algorithm: str) -> padding.OAEP:
    hash_type = _HASHES[algorithm.removeprefix("RSAES_OAEP_")]
    return padding.OAEP(mgf=padding.MGF1(hash_type()), algorithm=hash_type(), label=None)
