"""`rediss://` against a real `redis-server` with TLS and a certificate made here: a given CA is
verified, a wrong CA is refused, REDIS_TLS_VERIFY=none connects, and Heroku Redis hosts default
to what Heroku documents (no verification); the service and forget-me use the same settings."""
from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bot.app import create_app
from bot.config import Config, ConfigError
from bot.privacy.redis_state import forget_redis_state
from bot.state.base import KeyBuilder, StorageKey
from bot.state.redis import RedisStorage
from tests.conftest import IN_CI

# Outside CI a machine without redis-server skips these; in CI (CI=true) a missing server fails.
pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None and not IN_CI, reason="needs redis-server")


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _write_key(key, path: Path) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))


def _make_ca(folder: Path, common: str):
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name(common)).issuer_name(_name(common))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    (folder / f"{common}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1 signed by it, and another (wrong) CA."""
    folder = tmp_path_factory.mktemp("pki")
    ca_key, ca_cert = _make_ca(folder, "test-ca")
    _make_ca(folder, "wrong-ca")
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name("127.0.0.1")).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    (folder / "server.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(key, folder / "server.key")
    return {"ca": folder / "test-ca.pem", "wrong_ca": folder / "wrong-ca.pem",
            "cert": folder / "server.pem", "key": folder / "server.key"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def tls_redis(pki, tmp_path_factory):
    """`redis-server` listening with TLS only (`--port 0`), on a free port; its URL."""
    port = _free_port()
    folder = tmp_path_factory.mktemp("redis")
    server = subprocess.Popen(
        ["redis-server", "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
         "--tls-cert-file", str(pki["cert"]), "--tls-key-file", str(pki["key"]),
         "--tls-ca-cert-file", str(pki["ca"]), "--tls-auth-clients", "no",
         "--save", "", "--appendonly", "no", "--dir", str(folder)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 15
        while True:
            assert server.poll() is None, server.stdout.read()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.time() < deadline, "redis-server did not listen"
                time.sleep(0.05)
        yield f"rediss://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(10)


def _config(**env: str) -> Config:
    return Config.from_env(env, service=False)


async def _round_trip(config: Config) -> str | None:
    storage = RedisStorage.from_url(config.redis_url, KeyBuilder(prefix="tls-test"), config.redis_tls)
    try:
        key = StorageKey(channel_id="C1", user_id="U1")
        await storage.set_state(key, "waiting_photo", ttl=60)
        return await storage.get_state(key)
    finally:
        await storage.redis.aclose()


async def test_the_given_ca_verifies_the_server(tls_redis, pki):
    config = _config(REDIS_URL=tls_redis, REDIS_TLS_CA_FILE=str(pki["ca"]))
    assert config.redis_tls.verify and config.redis_tls.ca_file == str(pki["ca"])
    assert await _round_trip(config) == "waiting_photo"


async def test_a_wrong_ca_is_refused(tls_redis, pki):
    from redis.exceptions import ConnectionError as RedisConnectionError

    config = _config(REDIS_URL=tls_redis, REDIS_TLS_CA_FILE=str(pki["wrong_ca"]))
    with pytest.raises(RedisConnectionError, match="(?i)certificate verify failed"):
        await _round_trip(config)


async def test_the_default_verifies_against_the_system_cas_so_a_self_made_certificate_is_refused(tls_redis):
    from redis.exceptions import ConnectionError as RedisConnectionError

    config = _config(REDIS_URL=tls_redis)
    assert config.redis_tls.verify and config.redis_tls.ca_file is None
    with pytest.raises(RedisConnectionError, match="(?i)certificate verify failed"):
        await _round_trip(config)


async def test_verify_none_connects_to_a_self_signed_server(tls_redis):
    config = _config(REDIS_URL=tls_redis, REDIS_TLS_VERIFY="none")
    assert not config.redis_tls.verify
    assert await _round_trip(config) == "waiting_photo"


def test_heroku_redis_hosts_default_to_what_heroku_documents_and_can_be_overridden():
    url = "rediss://:secret@ec2-3-91-12-34.compute-1.amazonaws.com:16180"
    heroku = _config(REDIS_URL=url)
    assert not heroku.redis_tls.verify and "Heroku" in heroku.redis_tls.describe()
    assert "secret" not in heroku.describe()["state_store"]
    assert _config(REDIS_URL=url, REDIS_TLS_VERIFY="required").redis_tls.verify
    assert _config(REDIS_URL="rediss://cache.example.com:6380").redis_tls.verify  # any other host: verified
    assert _config(REDIS_URL="redis://127.0.0.1:6379").redis_tls is None


@pytest.mark.parametrize("env, variable", [
    ({"REDIS_URL": "rediss://127.0.0.1:6380", "REDIS_TLS_VERIFY": "maybe"}, "REDIS_TLS_VERIFY"),
    ({"REDIS_URL": "rediss://127.0.0.1:6380", "REDIS_TLS_CA_FILE": "/nonexistent/ca.pem"}, "REDIS_TLS_CA_FILE"),
    ({"REDIS_URL": "redis://127.0.0.1:6379", "REDIS_TLS_VERIFY": "none"}, "REDIS_TLS_VERIFY"),
])
def test_bad_tls_settings_name_the_variable(env, variable):
    with pytest.raises(ConfigError) as raised:
        _config(**env)
    assert raised.value.variable == variable


def test_a_ca_file_with_verify_none_is_a_contradiction(pki):
    with pytest.raises(ConfigError) as raised:
        _config(REDIS_URL="rediss://127.0.0.1:6380", REDIS_TLS_VERIFY="none", REDIS_TLS_CA_FILE=str(pki["ca"]))
    assert raised.value.variable == "REDIS_TLS_CA_FILE"


async def test_the_service_and_forget_me_use_the_tls_settings(aiohttp_client, tls_redis, pki, database_url, tmp_path):
    verified = _config(REDIS_URL=tls_redis, REDIS_TLS_CA_FILE=str(pki["ca"]))
    app = create_app(Config(database_url=database_url, data_dir=tmp_path, state_prefix="tls-test",
                            redis_url=verified.redis_url, redis_tls=verified.redis_tls))
    client = await aiohttp_client(app)
    response = await client.get("/healthz")
    assert response.status == 200, await response.text()
    assert (await response.json())["checks"]["state_store"] == "ok"

    assert await _round_trip(verified) == "waiting_photo"
    assert await forget_redis_state(tls_redis, "tls-test", "U1", dry_run=True, tls=verified.redis_tls) >= 1
    refused = _config(REDIS_URL=tls_redis, REDIS_TLS_CA_FILE=str(pki["wrong_ca"]))
    with pytest.raises(Exception, match="(?i)certificate verify failed"):
        await forget_redis_state(tls_redis, "tls-test", "U1", dry_run=True, tls=refused.redis_tls)
