"""Deployment settings: APP_SECRET in production, DATABASE_URL as platforms hand it out, the pool
size, the photo store variables, and the several-processes-without-Redis warning."""
import base64
import logging
import secrets
import ssl
import subprocess

import pytest
from sqlalchemy.engine import make_url

from bot.app import create_app
from bot.config import Config, ConfigError
from bot.photo_store import PhotoStoreSettings
from bot.storage.database import Database
from bot.storage.pg_options import split_options
from tests.conftest import POSTGRES_URL

PRODUCTION = {"LINE_CHANNEL_SECRET": "s" * 32, "LINE_CHANNEL_ACCESS_TOKEN": "t" * 40, "MOF_APP_ID": "EINV1",
              "MOF_API_KEY": "k" * 24}


def error(env):
    with pytest.raises(ConfigError) as info:
        Config.from_env(env)
    assert str(info.value).startswith(info.value.variable + ":") and "\n" not in str(info.value)
    return info.value


def test_production_requires_app_secret_so_links_verify_on_every_process():
    assert error(PRODUCTION).variable == "APP_SECRET"
    assert error({**PRODUCTION, "APP_SECRET": "short"}).variable == "APP_SECRET"
    strong = secrets.token_hex(32)
    assert Config.from_env({**PRODUCTION, "APP_SECRET": strong}).app_secret == strong
    assert Config.from_env({}).app_secret is None  # sandbox: a key kept in DATA_DIR is enough
    assert Config.from_env({"LINE_CHANNEL_SECRET": "s"}, service=False).app_secret is None  # the CLI


@pytest.mark.parametrize("weak", [
    "a" * 64,  # 64 hex digits, but one repeated
    "0123456789abcdef" * 4,  # a short pattern repeated
    "correcthorsebatterystapleinvoicecampaign",  # 40 lowercase letters: about 188 bits
    "rehearsal-app-secret-" + "s" * 24,
    secrets.token_hex(32)[:63],  # 252 bits
])
def test_a_weak_app_secret_is_refused_in_production(weak):
    failure = error({**PRODUCTION, "APP_SECRET": weak})
    assert failure.variable == "APP_SECRET" and "openssl rand -hex 32" in failure.reason
    assert weak not in str(failure) and weak[:8] not in str(failure)
    # Outside production (sandbox mode, the admin CLI) the 32-character minimum is the only rule.
    assert Config.from_env({"APP_SECRET": weak}).app_secret == weak
    assert Config.from_env({**PRODUCTION, "APP_SECRET": weak}, service=False).app_secret == weak


@pytest.mark.parametrize("strong", [
    secrets.token_hex(32), secrets.token_hex(32).upper(), secrets.token_hex(48),
    base64.b64encode(secrets.token_bytes(32)).decode(), secrets.token_urlsafe(32),
])
def test_random_32_byte_app_secrets_pass(strong):
    assert Config.from_env({**PRODUCTION, "APP_SECRET": strong}).app_secret == strong


@pytest.mark.parametrize("given, expected", [
    ("postgres://u:p@db.example:5432/d?sslmode=require", "postgresql+asyncpg://u:p@db.example:5432/d?sslmode=require"),
    ("postgresql://u@db/d?sslmode=disable&application_name=bot", "postgresql+asyncpg://u@db/d?sslmode=disable&application_name=bot"),
])
def test_platform_urls_get_the_async_driver_and_keep_their_options(given, expected):
    assert Config.from_env({"DATABASE_URL": given, "SANDBOX": "1"}).database_url == expected


@pytest.mark.parametrize("query, says", [
    ("sslmode=require&foo=1", "'foo'"),
    ("sslmode=sometimes", "sslmode must be one of"),
    ("sslmode=verify-full&sslrootcert=/nonexistent/root.crt", "sslrootcert: no such file"),
    ("connect_timeout=soon", "connect_timeout"),
    ("sslmode=require&sslmode=disable", "more than once"),
])
def test_unknown_or_bad_database_options_are_one_line_errors_naming_the_variable(query, says):
    failure = error({"DATABASE_URL": f"postgres://u@db/d?{query}"})
    assert failure.variable == "DATABASE_URL" and says in failure.reason


def test_sslmodes_become_asyncpg_arguments(tmp_path):
    url = make_url("postgresql+asyncpg://u@db/d?sslmode=disable&connect_timeout=7&application_name=bot")
    bare, args = split_options(url)
    assert bare.query == {} and args == {"ssl": False, "timeout": 7, "server_settings": {"application_name": "bot"}}
    assert split_options(make_url("postgresql+asyncpg://u@db/d?sslmode=prefer"))[1] == {"ssl": "prefer"}
    _, args = split_options(make_url("postgresql+asyncpg://u@db/d?sslmode=require"))
    assert args["ssl"].verify_mode == ssl.CERT_NONE and not args["ssl"].check_hostname  # encrypt only
    root = tmp_path / "root.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=test-ca",
                    "-keyout", str(tmp_path / "root.key"), "-out", str(root), "-days", "2"],
                   check=True, capture_output=True)
    _, args = split_options(make_url(f"postgresql+asyncpg://u@db/d?sslmode=verify-full&sslrootcert={root}"))
    context = args["ssl"]
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "test-ca"),),)]
    _, args = split_options(make_url(f"postgresql+asyncpg://u@db/d?sslmode=verify-ca&sslrootcert={root}"))
    assert args["ssl"].verify_mode == ssl.CERT_REQUIRED and not args["ssl"].check_hostname


async def test_a_url_with_sslmode_connects_instead_of_crashing_asyncpg():
    """The shared PostgreSQL speaks no TLS: sslmode=disable and prefer connect, require is refused
    by the server (a connection error, not asyncpg's TypeError about an unknown keyword)."""
    base = make_url(POSTGRES_URL).set(drivername="postgresql+asyncpg")
    for mode in ("disable", "prefer"):
        db = Database(base.update_query_dict({"sslmode": mode}).render_as_string(hide_password=False), pool_size=2)
        try:
            await db.ping()
        finally:
            await db.close()
    db = Database(base.update_query_dict({"sslmode": "require"}).render_as_string(hide_password=False))
    try:
        with pytest.raises(Exception) as info:
            await db.ping()
        assert not isinstance(info.value, TypeError)
    finally:
        await db.close()


def test_pool_size_and_photo_store_variables():
    config = Config.from_env({"DATABASE_POOL_SIZE": "25", "PHOTO_STORE_URL": "s3://photos/brand-a",
                              "AWS_ENDPOINT_URL": "https://acc.r2.cloudflarestorage.com", "AWS_REGION": "auto"})
    assert config.database_pool_size == 25
    assert config.photo_store == PhotoStoreSettings("s3://photos/brand-a", "https://acc.r2.cloudflarestorage.com",
                                                    "auto", None)
    assert Database("postgresql+asyncpg://u@db/d", pool_size=25).engine.pool.size() == 25
    assert Config.from_env({}).database_pool_size == 40
    assert Database("postgresql+asyncpg://u@db/d", pool_size=25).engine.pool._max_overflow == 0  # no burst connections
    for env, variable in [({"DATABASE_POOL_SIZE": "0"}, "DATABASE_POOL_SIZE"),
                          ({"DATABASE_POOL_SIZE": "many"}, "DATABASE_POOL_SIZE"),
                          ({"PHOTO_STORE_URL": "ftp://x/y"}, "PHOTO_STORE_URL"),
                          ({"PHOTO_STORE_URL": "s3:///no-bucket"}, "PHOTO_STORE_URL"),
                          ({"PHOTO_STORE_URL": "s3://AKIA:secret@bucket/p"}, "PHOTO_STORE_URL"),
                          ({"S3_ENDPOINT_URL": "minio:9000"}, "S3_ENDPOINT_URL"),
                          ({"S3_ADDRESSING_STYLE": "sideways"}, "S3_ADDRESSING_STYLE"),
                          ({"WEB_CONCURRENCY": "lots"}, "WEB_CONCURRENCY")]:
        failure = error(env)
        assert failure.variable == variable and "secret" not in failure.reason


@pytest.mark.parametrize("env, because", [
    ({}, None), ({"WEB_CONCURRENCY": "1"}, None), ({"DYNO": "web.1"}, None), ({"DYNO": "run.3"}, None),
    ({"WEB_CONCURRENCY": "4"}, "WEB_CONCURRENCY=4"), ({"DYNO": "web.2"}, "DYNO=web.2"),
    ({"DYNO": "worker.1"}, "DYNO=worker.1"), ({"RUN_WORKER": "false"}, "RUN_WORKER=false"),
])
def test_signs_of_several_processes(env, because):
    assert Config.from_env({**env, "SANDBOX": "1"}).several_processes == because


async def test_start_up_warns_when_postgresql_runs_several_processes_without_redis(
        aiohttp_client, database_url, tmp_path, caplog):
    config = Config(database_url=database_url, data_dir=tmp_path, several_processes="WEB_CONCURRENCY=2")
    with caplog.at_level(logging.WARNING, logger="bot.app"):
        await aiohttp_client(create_app(config))
    warned = [r for r in caplog.records if "REDIS_URL" in r.getMessage()]
    assert len(warned) == (1 if database_url.startswith("postgresql") else 0)
    if warned:
        assert warned[0].fields == {"because": "WEB_CONCURRENCY=2"}
