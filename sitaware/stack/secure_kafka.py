"""Secure mode of the local broker: a CA made on this machine, the broker's TLS keystore,
and SCRAM users, so clients connect with SASL_SSL (TLS + SCRAM login) only.

Everything is generated once under the stack folder with Java's `keytool` (the broker
needs Java anyway): `<stack_dir>/kafka/tls/` holds the CA certificate clients trust and
the broker's keystore; `<stack_dir>/secrets/` holds one 0600 file per password.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from pathlib import Path

from pydantic import SecretStr

from sitaware.errors import StackError
from sitaware.settings import DEPLOY_DIR
from sitaware.stack.secrets import secret_file

__all__ = ["BrokerSecurity", "CLIENT_USER", "MECHANISM"]

CLIENT_USER = "sitaware"
BROKER_USER = "sitaware-broker"  # the broker's own login on its inter-broker listener
MECHANISM = "SCRAM-SHA-512"  # what `stack env` exports; SCRAM-SHA-256 works as well
MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256")
OVERRIDES = DEPLOY_DIR / "kafka" / "server-secure.properties.template"
VALIDITY_DAYS = "3650"
# Seven short keytool runs: a JVM tuned for start-up, not throughput, takes a third of the time.
QUICK_JVM = ("-J-XX:TieredStopAtLevel=1", "-J-XX:+UseSerialGC")


class BrokerSecurity:
    def __init__(self, stack_dir: Path, java: str):
        self.tls_dir = stack_dir / "kafka" / "tls"
        self.secrets_dir = stack_dir / "secrets"
        self.java = java

    # --- files --------------------------------------------------------------------------
    @property
    def ca_file(self) -> Path:
        return self.tls_dir / "ca.pem"

    @property
    def keystore(self) -> Path:
        return self.tls_dir / "broker.p12"

    @property
    def client_password_file(self) -> Path:
        return self.secrets_dir / "kafka-sitaware.password"

    def _password(self, name: str) -> str:
        return secret_file(self.secrets_dir / name)

    # --- material -------------------------------------------------------------------------
    def ensure_material(self) -> bool:
        """Generate the CA, the broker certificate and the passwords; True if it made them."""
        self._password("kafka-sitaware.password")
        self._password("kafka-broker.password")
        if self.keystore.exists() and self.ca_file.exists():
            return False
        keytool = self._keytool()
        work = self.tls_dir / "new"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(mode=0o700, parents=True)
        # keytool reads store passwords from the environment: never on a command line.
        env = {**os.environ, "SITAWARE_KEYSTORE_PASSWORD": self._password("kafka-keystore.password"),
               "SITAWARE_CA_PASSWORD": secrets.token_urlsafe(24)}
        ca = ["-keystore", str(work / "ca.p12"), "-storetype", "PKCS12", "-storepass:env", "SITAWARE_CA_PASSWORD"]
        broker = ["-keystore", str(work / "broker.p12"), "-storetype", "PKCS12",
                  "-storepass:env", "SITAWARE_KEYSTORE_PASSWORD"]
        key = ["-keyalg", "EC", "-groupname", "secp256r1", "-validity", VALIDITY_DAYS]
        steps = [
            ["-genkeypair", *ca, "-alias", "ca", *key, "-dname", "CN=sitaware local CA",
             "-ext", "bc:c", "-ext", "KU=keyCertSign,cRLSign"],
            ["-exportcert", *ca, "-alias", "ca", "-rfc", "-file", str(work / "ca.pem")],
            ["-genkeypair", *broker, "-alias", "broker", *key, "-dname", "CN=127.0.0.1"],
            ["-certreq", *broker, "-alias", "broker", "-file", str(work / "broker.csr")],
            # Clients check the broker's name: it is reached as 127.0.0.1 (or localhost).
            ["-gencert", *ca, "-alias", "ca", "-infile", str(work / "broker.csr"),
             "-outfile", str(work / "broker.pem"), "-rfc", "-validity", VALIDITY_DAYS,
             "-ext", "SAN=ip:127.0.0.1,dns:localhost",
             "-ext", "KU=digitalSignature,keyEncipherment", "-ext", "EKU=serverAuth,clientAuth"],
            ["-importcert", *broker, "-alias", "ca", "-file", str(work / "ca.pem"), "-noprompt"],
            ["-importcert", *broker, "-alias", "broker", "-file", str(work / "broker.pem"), "-noprompt"],
        ]
        for args in steps:
            proc = subprocess.run([keytool, *QUICK_JVM, *args], capture_output=True, text=True, env=env)
            if proc.returncode != 0:
                raise StackError(f"keytool {args[0]} failed: {(proc.stderr or proc.stdout).strip()[-400:]}")
        # The CA's private key is not kept: it signed the one broker certificate it exists for.
        for name in ("broker.p12", "ca.pem"):
            (work / name).chmod(0o600 if name.endswith(".p12") else 0o644)
            (work / name).replace(self.tls_dir / name)
        shutil.rmtree(work)
        return True

    def _keytool(self) -> str:
        java = shutil.which(self.java)
        candidates = [Path(os.path.realpath(java)).parent / "keytool"] if java else []
        found = next((str(c) for c in candidates if os.access(c, os.X_OK)), None) or shutil.which("keytool")
        if found is None:
            raise StackError(
                "keytool (part of the Java runtime) was not found: secure mode needs it to make the "
                "local CA and the broker certificate (apt-get install openjdk-17-jre-headless)"
            )
        return found

    # --- broker configuration ---------------------------------------------------------------
    def server_properties(self, port: int, controller_port: int) -> str:
        return OVERRIDES.read_text().format(
            port=port,
            controller_port=controller_port,
            broker_user=BROKER_USER,
            broker_password=self._password("kafka-broker.password"),
            keystore=self.keystore,
            ca_file=self.ca_file,
            keystore_password=self._password("kafka-keystore.password"),
        )

    def scram_arguments(self) -> list[str]:
        """`StorageTool format` arguments that create the SCRAM users with the metadata log."""
        users = ((CLIENT_USER, "kafka-sitaware.password"), (BROKER_USER, "kafka-broker.password"))
        return [
            argument
            for user, password in users
            for mechanism in MECHANISMS
            for argument in ("--add-scram", f"{mechanism}=[name={user},password={self._password(password)}]")
        ]

    def client_settings(self) -> dict:
        """Settings updates with which clients log in (the password comes from its file)."""
        return {
            "kafka_security_protocol": "SASL_SSL",
            "kafka_sasl_mechanism": MECHANISM,
            "kafka_sasl_username": CLIENT_USER,
            "kafka_sasl_password_file": self.client_password_file,
            "kafka_sasl_password": SecretStr(self._password("kafka-sitaware.password")),
            "kafka_ssl_cafile": self.ca_file,
        }
