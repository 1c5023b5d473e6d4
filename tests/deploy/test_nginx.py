"""docs/nginx/ltigate.conf, the example of docs/deploy.md, run by a real nginx (TLS with a self-signed
certificate made here) in front of a real `ltigate serve` whose base URL is nginx's https address: health
and key sets with their headers, a complete launch, the forwarded scheme and client address, the body size
limit, and the framing headers, all through nginx. Skipped when nginx is not installed.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import pwd
import re
import shutil
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ltigate.web.forms import MAX_FORM_BYTES
from tests.console.conftest import form_token
from tests.deploy.conftest import Deployment, deployment
from tests.e2e.conftest import APP_URL
from tests.e2e.test_launch import launch, ticket_of
from tests.support.fake_lms import wait_until
from tests.support.platform import Browser, error_code
from tests.support.servers import free_port
from tests.support.worker import Process, wait_ready

CONFIG = Path(__file__).parents[2] / "docs" / "nginx" / "ltigate.conf"
NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)

pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (Debian: apt-get install nginx)")


@dataclass
class Proxied:
    deployment: Deployment
    base: str  # https://127.0.0.1:<nginx's port>, ltigate's LTIGATE_BASE_URL
    plain: str  # nginx's http:// server (redirects to https)
    tls: ssl.SSLContext  # trusts the test certificate
    access_log: Path

    def client(self, **options: object) -> httpx.Client:
        return httpx.Client(base_url=self.base, verify=self.tls, timeout=10, **options)  # type: ignore[arg-type]

    def api(self) -> httpx.Client:
        return self.client(headers={"Authorization": f"Bearer {self.deployment.api_key}"})


class TlsBrowser(Browser):
    """The launch tests' browser, over TLS to nginx."""

    def __init__(self, proxied: Proxied) -> None:
        self.gateway_url = proxied.base
        self.http = proxied.client()


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert, private = directory / "fullchain.pem", directory / "privkey.pem"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert, private


def render(replacements: dict[str, str]) -> str:
    """The documented configuration with its example values replaced; each must be there, so the test
    cannot quietly drift from the file."""
    text = CONFIG.read_text()
    for example, value in replacements.items():
        assert example in text, f"{CONFIG} no longer contains {example!r}"
        text = text.replace(example, value)
    return text


def main_config(tmp: Path, site: Path) -> str:
    """The nginx.conf around the site file: in the foreground, every path in `tmp`."""
    # Run as root, nginx would switch its workers to nobody, who cannot write the temporary files here.
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};" if os.geteuid() == 0 else ""
    temp = "\n".join(
        f"    {kind}_temp_path {tmp}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log notice;
{user}
events {{ worker_connections 256; }}
http {{
    default_type application/octet-stream;
    access_log {tmp}/other-access.log;
{temp}
    include {site};
}}
"""


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxied]:
    tmp = tmp_path_factory.mktemp("nginx")
    https_port, http_port = free_port(), free_port()
    base = f"https://127.0.0.1:{https_port}"
    with deployment(tmp, "sqlite", LTIGATE_BASE_URL=base, LTIGATE_TRUSTED_PROXIES="127.0.0.1") as seeded:
        server = Process(["serve"], seeded.env, tmp / "serve.log")
        nginx: subprocess.Popen[bytes] | None = None
        try:
            wait_ready(seeded.url, server, seconds=60)
            cert, key = self_signed(tmp)
            site = tmp / "ltigate.conf"
            site.write_text(
                render(
                    {
                        "server 10.0.0.11:8000;": f"server 127.0.0.1:{seeded.port};",
                        "    server 10.0.0.12:8000;\n": "",  # one node here
                        "listen 80;": f"listen 127.0.0.1:{http_port};",
                        "listen 443 ssl http2;": f"listen 127.0.0.1:{https_port} ssl http2;",
                        "lti.example.edu": "127.0.0.1",
                        "/etc/ssl/ltigate/fullchain.pem": str(cert),
                        "/etc/ssl/ltigate/privkey.pem": str(key),
                        "/var/log/nginx/ltigate.access.log": str(tmp / "access.log"),
                    }
                )
            )
            (tmp / "nginx.conf").write_text(main_config(tmp, site))
            assert NGINX is not None
            with (tmp / "nginx.out").open("wb") as out:
                nginx = subprocess.Popen(
                    [NGINX, "-c", str(tmp / "nginx.conf"), "-p", f"{tmp}/"], stdout=out, stderr=subprocess.STDOUT
                )
            proxy = Proxied(
                seeded,
                base,
                f"http://127.0.0.1:{http_port}",
                ssl.create_default_context(cafile=cert),
                tmp / "access.log",
            )
            _wait_serving(proxy, nginx, tmp)
            yield proxy
        finally:
            if nginx is not None:
                nginx.terminate()
                nginx.wait(timeout=15)
            server.stop()


def _wait_serving(proxy: Proxied, nginx: subprocess.Popen[bytes], tmp: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        if nginx.poll() is not None:
            raise AssertionError(f"nginx exited: {(tmp / 'nginx.out').read_text()} {(tmp / 'error.log').read_text()}")
        try:
            with proxy.client() as client:
                if client.get("/readyz").status_code == 200:
                    return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"nginx did not answer: {(tmp / 'error.log').read_text()}")
        time.sleep(0.1)


def test_health_and_key_sets_pass_through_with_their_headers(proxied: Proxied) -> None:
    with proxied.client() as client, httpx.Client(base_url=proxied.deployment.url) as direct:
        ready = client.get("/readyz")
        assert (ready.status_code, ready.json()) == (200, {"status": "ready"})
        assert ready.headers["strict-transport-security"] == "max-age=31536000"
        # The request id is nginx's own, answered by ltigate and written in nginx's access log.
        request_id = ready.headers["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{32}", request_id)
        wait_until(lambda: '/readyz HTTP/1.1" 200 ' in _lines(proxied, request_id), 5, "the access log line")
        for path in ("/.well-known/jwks.json", "/.well-known/ticket-jwks.json"):
            keys, original = client.get(path), direct.get(path)
            assert keys.status_code == 200
            assert keys.json() == original.json() and keys.json()["keys"]
            for header in ("content-type", "cache-control", "access-control-allow-origin"):
                assert keys.headers[header] == original.headers[header], header
            assert keys.headers["content-type"] == "application/jwk-set+json"
            assert keys.headers["cache-control"] == "public, max-age=300"


def _lines(proxied: Proxied, request_id: str) -> str:
    return "\n".join(line for line in proxied.access_log.read_text().splitlines() if line.endswith(request_id))


def test_plain_http_is_sent_to_https(proxied: Proxied) -> None:
    response = httpx.get(f"{proxied.plain}/lti/login?iss=x")
    assert response.status_code == 301
    assert response.headers["location"] == "https://127.0.0.1/lti/login?iss=x"


def test_a_launch_through_nginx_hands_off_with_a_ticket(proxied: Proxied) -> None:
    registered = proxied.deployment.registered
    browser = TlsBrowser(proxied)
    try:
        login = browser.login(registered.platform, "quiz")
        assert login.auth_params["redirect_uri"] == f"{proxied.base}/lti/launch"
        cookie = next(c for c in browser.http.cookies.jar if c.value == login.state)
        # A cross-site POST from the LMS carries the state cookie only when it is SameSite=None; Secure.
        assert cookie.secure and cookie.get_nonstandard_attr("SameSite") == "None"
        assert cookie.has_nonstandard_attr("Partitioned") and cookie.has_nonstandard_attr("HttpOnly")
        response = launch(browser, registered)
        assert response.headers["location"].startswith(APP_URL + "?ticket=")
        with proxied.api() as api:
            redeemed = api.post("/api/v1/tickets/redeem", json={"ticket": ticket_of(response)})
        assert redeemed.status_code == 200, redeemed.text
        assert redeemed.json()["outcome"] == "succeeded"
    finally:
        browser.close()


def test_absolute_urls_made_by_the_framework_use_the_forwarded_scheme_and_host(proxied: Proxied) -> None:
    with proxied.api() as api:
        slash = api.get("/api/v1/platforms/")
    assert slash.status_code == 307
    assert slash.headers["location"] == f"{proxied.base}/api/v1/platforms"


def test_the_console_locks_out_the_address_nginx_forwards_not_nginx_itself(proxied: Proxied) -> None:
    # Everything here comes from 127.0.0.1, itself a trusted proxy: the address ltigate takes for the
    # browser is the one before it in X-Forwarded-For, which nginx appends to. Without the forwarded
    # address, every browser would share nginx's address and five failures would lock everyone out.
    with proxied.client() as browser:
        token = form_token(browser.get("/console/sign-in").text)

        def sign_in(name: str, address: str) -> httpx.Response:
            fields = {"csrf": token, "name": name, "password": "wrong"}
            return browser.post("/console/sign-in", data=fields, headers={"X-Forwarded-For": address})

        # Five failures (each for another name) lock the address out, the fifth answered as locked already.
        assert [sign_in(f"nobody-{n}", "203.0.113.7").status_code for n in range(5)] == [401] * 4 + [429]
        assert sign_in("nobody-5", "203.0.113.7").status_code == 429
        assert sign_in("nobody-6", "203.0.113.8").status_code == 401  # another address is not locked out


def test_the_body_limit_leaves_ltigate_to_refuse_an_oversize_launch_with_its_page(proxied: Proxied) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    with proxied.client() as client:
        # Up to ltigate's cap, nginx passes the form and ltigate reads it (here: a launch without a token).
        fitting = client.post("/lti/launch", content=b"state=s&filler=" + b"a" * (MAX_FORM_BYTES - 64), headers=form)
        assert fitting.status_code == 400 and error_code(fitting) not in (None, "form_too_large"), fitting.text
        oversize = client.post("/lti/launch", content=b"id_token=" + b"a" * MAX_FORM_BYTES, headers=form)
        assert (oversize.status_code, error_code(oversize)) == (413, "form_too_large")
        huge = client.post("/lti/launch", content=b"id_token=" + b"a" * (2 * 1024 * 1024), headers=form)
        assert huge.status_code == 413 and error_code(huge) is None and "nginx" in huge.text  # nginx's own


def test_the_framing_headers_of_a_launch_page_pass_unchanged(proxied: Proxied) -> None:
    registered = proxied.deployment.registered
    browser = TlsBrowser(proxied)
    try:
        refused = launch(browser, registered, aud="someone-else")
    finally:
        browser.close()
    assert error_code(refused) == "audience_mismatch"
    (policy,) = refused.headers.get_list("content-security-policy")
    issuer = urlsplit(registered.platform.issuer)
    assert f"frame-ancestors 'self' {issuer.scheme}://{issuer.netloc}" in policy
    assert "x-frame-options" not in refused.headers
