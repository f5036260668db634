"""Start and stop a SimpleSAMLphp identity provider for a test, on loopback.

The Debian package's configuration is copied to a private directory (never edited in place)
and adjusted: our base URL, key, metadata and log directories, a fresh secret salt, the SAML
2.0 IdP and the ``exampleauth:UserPass`` source enabled, cookies allowed over plain http.
Served by PHP's built-in web server (``php -S``), as the TESTBED notes describe.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from proctor.demo.pgcluster import free_port
from tests.saml.keys import KeyPair, self_signed

SIMPLESAMLPHP = Path("/usr/share/simplesamlphp")
STOCK_CONFIG = Path("/etc/simplesamlphp/config.php")
UNSPECIFIED = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"

USERS = {
    "alice": {
        "password": "alice-password",
        "uid": ["alice"],
        "displayName": ["Alice Liddell"],
        "mail": ["alice@acme.test"],
        "memberOf": ["idp-dba", "engineering"],
    },
    "bob": {
        "password": "bob-password",
        "uid": ["bob"],
        "displayName": ["Bob"],
        "mail": ["bob@acme.test"],
        "memberOf": ["engineering"],
    },
}


def available() -> str | None:
    """Why the IdP cannot run here, or None when it can."""
    if shutil.which("php") is None:
        return "php is not installed (apt-get install php-cli php-xml php-mbstring php-curl)"
    if not (SIMPLESAMLPHP / "www" / "index.php").is_file() or not STOCK_CONFIG.is_file():
        return "SimpleSAMLphp is not installed (apt-get install simplesamlphp)"
    return None


@dataclass
class ServiceProvider:
    """What the IdP knows about one SP (the gateway's metadata, written by hand)."""

    entity_id: str
    acs_url: str
    cert: KeyPair | None = None  # set: AuthnRequests must be signed with it
    sign_response: bool = True
    sign_assertion: bool = True


def php(value: object) -> str:
    """A Python value as a PHP literal (JSON strings are valid PHP strings once escaped)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, list):
        return "[" + ", ".join(php(v) for v in value) + "]"
    if isinstance(value, dict):
        return "[" + ", ".join(f"{php(k)} => {php(v)}" for k, v in value.items()) + "]"
    raise TypeError(type(value))


@dataclass
class SamlIdp:
    directory: Path
    sps: list[ServiceProvider]
    port: int = field(default_factory=free_port)
    keys: KeyPair = field(default_factory=lambda: self_signed("proctor-test-idp"))
    proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def entity_id(self) -> str:
        return f"{self.base_url}/saml2/idp/metadata.php"

    @property
    def sso_url(self) -> str:
        return f"{self.base_url}/saml2/idp/SSOService.php"

    def write_config(self) -> None:
        d = self.directory
        for sub in ("config", "metadata", "cert", "log", "tmp", "sessions"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        (d / "cert" / "idp.key").write_text(self.keys.key_pem)
        (d / "cert" / "idp.crt").write_text(self.keys.cert_pem)
        (d / "idp.crt").write_text(self.keys.cert_pem)
        stock = STOCK_CONFIG.read_text()
        # Debian keeps the salt and admin password in a root-only file: ours are set below.
        stock = re.sub(r"^\s*require_once\(.*secrets\.inc\.php.*\);\s*$", "", stock, flags=re.M)
        overrides = {
            "baseurlpath": f"{self.base_url}/",
            "certdir": f"{d / 'cert'}/",
            "metadatadir": f"{d / 'metadata'}/",
            "loggingdir": f"{d / 'log'}/",
            "tempdir": f"{d / 'tmp'}/",
            "logging.handler": "file",
            "logging.logfile": "simplesamlphp.log",
            "secretsalt": secrets.token_hex(16),
            "auth.adminpassword": secrets.token_hex(16),
            "enable.saml20-idp": True,
            "session.cookie.secure": False,
            # The stock default is SameSite=None, which browsers drop without Secure (http).
            "session.cookie.samesite": "Lax",
            "timezone": "UTC",
            "store.type": "phpsession",
            "metadata.sources": [{"type": "flatfile"}],
        }
        lines = [f"$config[{php(k)}] = {php(v)};" for k, v in overrides.items()]
        lines.append("$config['module.enable']['exampleauth'] = true;")
        lines.append("$config['logging.level'] = SimpleSAML\\Logger::DEBUG;")
        (d / "config" / "config.php").write_text(stock.rstrip() + "\n" + "\n".join(lines) + "\n")

        users = {
            f"{name}:{attrs['password']}": {k: v for k, v in attrs.items() if k != "password"}
            for name, attrs in USERS.items()
        }
        # exampleauth:UserPass takes its users as further entries of the source's array.
        body = "$config = [\n"
        body += "  'admin' => ['core:AdminPassword'],\n"
        body += "  'users' => array_merge(['exampleauth:UserPass'], " + php(users) + "),\n"
        body += "];\n"
        (d / "config" / "authsources.php").write_text("<?php\n" + body)

        hosted = {
            "host": "__DEFAULT__",
            "privatekey": "idp.key",
            "certificate": "idp.crt",
            "auth": "users",
            "signature.algorithm": RSA_SHA256,
        }
        (d / "metadata" / "saml20-idp-hosted.php").write_text(
            f"<?php\n$metadata[{php(self.entity_id)}] = {php(hosted)};\n"
        )
        remote = "<?php\n"
        for sp in self.sps:
            entry: dict[str, object] = {
                "AssertionConsumerService": sp.acs_url,
                "NameIDFormat": UNSPECIFIED,
                "saml20.sign.response": sp.sign_response,
                "saml20.sign.assertion": sp.sign_assertion,
                "signature.algorithm": RSA_SHA256,
                "attributes.NameFormat": "urn:oasis:names:tc:SAML:2.0:attrname-format:basic",
                "authproc": {
                    90: {
                        "class": "saml:AttributeNameID",
                        "attribute": "uid",
                        "Format": UNSPECIFIED,
                    }
                },
            }
            if sp.cert is not None:
                entry["validate.authnrequest"] = True
                entry["certData"] = sp.cert.cert_body
            remote += f"$metadata[{php(sp.entity_id)}] = {php(entry)};\n"
        (d / "metadata" / "saml20-sp-remote.php").write_text(remote)

    def start(self) -> None:
        self.write_config()
        log = (self.directory / "php.log").open("ab")
        env = {**os.environ, "SIMPLESAMLPHP_CONFIG_DIR": str(self.directory / "config")}
        self.proc = subprocess.Popen(
            [
                "php",
                "-d",
                f"session.save_path={self.directory / 'sessions'}",
                # PHP 8.2 deprecation notices in SimpleSAMLphp 1.19 must not reach the page:
                # printed before the headers, they stop the session cookie from being set.
                "-d",
                "display_errors=0",
                "-d",
                "log_errors=1",
                "-d",
                f"error_log={self.directory / 'php-errors.log'}",
                "-S",
                f"127.0.0.1:{self.port}",
                "-t",
                str(SIMPLESAMLPHP / "www"),
            ],
            cwd=self.directory,
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            env=env,
        )
        log.close()
        deadline = time.monotonic() + 20
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"SimpleSAMLphp exited:\n{self.log()[-3000:]}")
            try:
                with urllib.request.urlopen(self.entity_id, timeout=2) as r:
                    if r.status == 200 and b"EntityDescriptor" in r.read():
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"SimpleSAMLphp not ready:\n{self.log()[-3000:]}")
            time.sleep(0.1)

    def metadata(self) -> str:
        with urllib.request.urlopen(self.entity_id, timeout=5) as r:
            return str(r.read().decode())

    def log(self) -> str:
        parts = []
        logs = ("php.log", "php-errors.log", "log/simplesamlphp.log")
        for path in (self.directory / name for name in logs):
            if path.exists():
                parts.append(path.read_text(errors="replace"))
        return "\n".join(parts)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
