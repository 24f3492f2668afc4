"""Throw-away TLS material for the tests, made with ``openssl``, and a check that none leaks.

``make_certificates(folder)`` writes a CA, a server certificate it signed for ``localhost``
only, a client certificate it signed, an unrelated CA, and a client certificate that CA signed
(which a broker trusting only the first CA refuses). EC keys: quick to make on a shared machine.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

#: Any PEM private key block (PKCS#8, EC, RSA, encrypted).
PEM_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _key(name: str) -> tuple[str, ...]:
    return ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", f"{name}.key")  # fmt: skip


def _ca(folder: Path, name: str) -> None:
    openssl(
        "req", "-x509", *_key(name), "-days", "2", "-out", f"{name}.pem",
        "-subj", f"/CN=mqwire test {name}", cwd=folder,
    )  # fmt: skip


def _signed(folder: Path, name: str, ca: str, subject: str, extensions: str) -> None:
    openssl("req", *_key(name), "-out", f"{name}.csr", "-subj", subject, cwd=folder)
    (folder / f"{name}.ext").write_text(extensions)
    openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
        "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext",
        cwd=folder,
    )  # fmt: skip


@dataclass(frozen=True)
class Certificates:
    """The folder of the files; the private keys (``.key``) must never show anywhere."""

    folder: Path

    def pem(self, name: str) -> Path:
        """The certificate ``name`` (``ca``, ``server``, ``client``, ``other-ca``, ``rogue``)."""
        return self.folder / f"{name}.pem"

    def key(self, name: str) -> Path:
        """The private key of certificate ``name``."""
        return self.folder / f"{name}.key"

    def key_material(self) -> list[str]:
        """Every private key's base64 lines: a leak of any of them is a leak."""
        lines = []
        for key in sorted(self.folder.glob("*.key")):
            lines += [line for line in key.read_text().splitlines() if not line.startswith("-")]
        return lines

    def leaks(self, text: str) -> list[str]:
        """What of the private keys ``text`` shows (a PEM key block, or a line of a key)."""
        found = [match.group() for match in PEM_KEY.finditer(text)]
        return found + [line for line in self.key_material() if line in text]


def make_certificates(folder: Path) -> Certificates:
    """``ca``, ``server`` (localhost), ``client``, ``other-ca`` (an unrelated CA) and ``rogue``
    (a client certificate it signed), each ``.pem`` with its ``.key``; skips without openssl."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    _ca(folder, "ca")
    _ca(folder, "other-ca")
    server = "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n"
    client = "extendedKeyUsage=clientAuth\n"
    _signed(folder, "server", "ca", "/CN=localhost", server)
    _signed(folder, "client", "ca", "/CN=mqwire-test-client", client)
    _signed(folder, "rogue", "other-ca", "/CN=mqwire-test-rogue", client)
    return Certificates(folder)


def readable_by_rabbitmq(folder: Path) -> None:
    """A private node runs as ``rabbitmq`` and reads the server's files."""
    if os.geteuid() == 0:
        rabbitmq = pwd.getpwnam("rabbitmq")
        for path in [folder, *folder.iterdir()]:
            os.chown(path, rabbitmq.pw_uid, rabbitmq.pw_gid)
