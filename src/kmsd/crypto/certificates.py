"""Reading the trust anchor certificate a custom key store is created with.

AWS keeps the trust anchor (the ``customerCA.crt`` that signed a CloudHSM cluster's certificate) and
refuses one that is not the cluster's.  A PKCS#11 token has no such certificate to compare with, so kmsd
checks what it can: the text is one PEM X.509 certificate that parses.
"""

from __future__ import annotations

from cryptography import x509


def is_pem_certificate(text: str) -> bool:
    """Whether ``text`` is a PEM-encoded X.509 certificate."""
    try:
        x509.load_pem_x509_certificate(text.encode("utf-8", "replace"))
    except ValueError:
        return False
    return True
