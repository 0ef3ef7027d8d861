"""Configuration from the environment: defaults, sandbox detection, one-line errors."""
import pytest

from bot.config import Config, ConfigError

STRONG_SECRET = "5f0c3a9e1b7d24c86e19a3f0b5d7c2e4a8f61d3b9c0e7a2f4d6b8c1e3a5f7092"  # like `openssl rand -hex 32`
LINE_VARIABLES = "LINE_CHANNEL_SECRET, LINE_CHANNEL_ACCESS_TOKEN, MOF_APP_ID, MOF_API_KEY, APP_SECRET"


def refusal(env) -> ConfigError:  # noqa: ANN001
    with pytest.raises(ConfigError) as info:
        Config.from_env(env)
    return info.value


def test_defaults_are_sandbox_with_sqlite():
    config = Config.from_env({})
    assert config.sandbox
    assert config.database_url == "sqlite+aiosqlite:///./data/app.db"
    assert config.redis_url is None
    assert config.port == 8080


def test_heroku_style_postgres_url_gets_the_async_driver():
    config = Config.from_env({"DATABASE_URL": "postgres://u:p@db.example/prod", "SANDBOX": "1"})
    assert config.database_url == "postgresql+asyncpg://u:p@db.example/prod"


@pytest.mark.parametrize(
    "env, variable",
    [
        ({"DATABASE_URL": "not a url"}, "DATABASE_URL"),
        ({"DATABASE_URL": "mysql://x@y/z"}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgresql+asyncpg://user@host"}, "DATABASE_URL"),
        ({"REDIS_URL": "http://localhost:6379"}, "REDIS_URL"),
        ({"REDIS_URL": "redis://localhost:notaport"}, "REDIS_URL"),
        ({"REDIS_URL": "redis://"}, "REDIS_URL"),
        ({"PORT": "eighty"}, "PORT"),
        ({"PORT": "70000"}, "PORT"),
        ({"LINE_API_BASE_URL": "ftp://x"}, "LINE_API_BASE_URL"),
        ({"MOF_API_BASE_URL": "localhost"}, "MOF_API_BASE_URL"),
        ({"LINE_CHANNEL_SECRET": "s3cret"}, "LINE_CHANNEL_ACCESS_TOKEN"),
        ({"LINE_CHANNEL_ACCESS_TOKEN": "tok"}, "LINE_CHANNEL_SECRET"),
        ({"LINE_CHANNEL_SECRET": "s", "LINE_CHANNEL_ACCESS_TOKEN": "t"}, "MOF_APP_ID"),
        ({"LINE_CHANNEL_SECRET": "s", "LINE_CHANNEL_ACCESS_TOKEN": "t", "MOF_APP_ID": "a"}, "MOF_API_KEY"),
        ({"LINE_CHANNEL_SECRET": "s", "LINE_CHANNEL_ACCESS_TOKEN": "t", "MOF_APP_ID": "a", "MOF_API_KEY": "k"},
         "APP_SECRET"),
        ({"LINE_LOGIN_CHANNEL_ID": "not-digits"}, "LINE_LOGIN_CHANNEL_ID"),
        ({"LOG_LEVEL": "chatty"}, "LOG_LEVEL"),
    ],
)
def test_bad_settings_name_the_variable(env, variable):
    failure = refusal(env)
    assert failure.variable == variable
    assert str(failure).startswith(variable + ":")


def test_production_mode_and_secrets_stay_out_of_repr():
    config = Config.from_env(
        {
            "LINE_CHANNEL_SECRET": "chan-secret-value",
            "LINE_CHANNEL_ACCESS_TOKEN": "access-token-value",
            "MOF_APP_ID": "EINV0001",
            "MOF_API_KEY": "mof-key-value",
            "APP_SECRET": "app-secret-value-" + STRONG_SECRET,
            "DATABASE_URL": "postgresql+asyncpg://app:dbpass123@db/prod",
        }
    )
    assert not config.sandbox
    text = repr(config) + str(config.describe())
    for secret in ("chan-secret-value", "access-token-value", "mof-key-value", "dbpass123", "app-secret-value"):
        assert secret not in text


def test_the_admin_cli_reads_channel_credentials_without_service_rules():
    env = {"LINE_CHANNEL_SECRET": "s" * 32, "DATABASE_URL": "sqlite+aiosqlite:///x.db"}
    with pytest.raises(ConfigError):
        Config.from_env(env)
    assert Config.from_env(env, service=False).database_url == "sqlite+aiosqlite:///x.db"
    with pytest.raises(ConfigError):
        Config.from_env({"DATABASE_URL": "nonsense"}, service=False)


def test_handler_concurrency_default_fits_in_the_database_pool():
    """Unset, HANDLER_CONCURRENCY takes the documented default, and the pool keeps more
    connections than events handled at once (an overflowing pool reopens connections)."""
    config = Config.from_env({})
    assert config.handler_concurrency == Config.handler_concurrency == 32
    from bot.app import POOL_HEADROOM

    assert config.database_pool_size >= config.handler_concurrency + POOL_HEADROOM


@pytest.mark.parametrize("env, sign", [
    ({"DATABASE_URL": "postgresql+asyncpg://app@db.internal/prod"}, "DATABASE_URL is PostgreSQL"),
    ({"DATABASE_URL": "postgres://app:pw@db.internal/prod?sslmode=require"}, "DATABASE_URL is PostgreSQL"),
    ({"DYNO": "web.1"}, "DYNO=web.1"),
    ({"DYNO": "worker.1"}, "DYNO=worker.1"),
    ({"PUBLIC_BASE_URL": "https://invoices.example.com"}, "PUBLIC_BASE_URL is https"),
])
def test_a_production_deployment_without_line_credentials_does_not_start_sandbox_mode(env, sign):
    failure = refusal(env)
    assert failure.variable == LINE_VARIABLES
    message = str(failure)
    assert "\n" not in message and f"({sign})" in message and "SANDBOX=1" in message
    assert "pw" not in message and "db.internal" not in message  # the database URL is not repeated


def test_all_signs_are_named_and_only_the_missing_variables():
    env = {"DATABASE_URL": "postgresql+asyncpg://app@db/prod", "DYNO": "web.1",
           "PUBLIC_BASE_URL": "https://invoices.example.com", "MOF_APP_ID": "EINV1", "APP_SECRET": STRONG_SECRET}
    failure = refusal(env)
    assert failure.variable == "LINE_CHANNEL_SECRET, LINE_CHANNEL_ACCESS_TOKEN, MOF_API_KEY"
    assert "(DATABASE_URL is PostgreSQL, DYNO=web.1, PUBLIC_BASE_URL is https)" in failure.reason


def test_sandbox_1_runs_the_sandbox_on_a_production_looking_deployment():
    env = {"DATABASE_URL": "postgresql+asyncpg://app@db/demo", "DYNO": "web.1",
           "PUBLIC_BASE_URL": "https://demo.example.com", "SANDBOX": "1"}
    config = Config.from_env(env)
    assert config.sandbox and not config.sandbox_public
    assert Config.from_env({**env, "SANDBOX_PUBLIC": "1"}).sandbox_public


def test_the_readme_sandbox_needs_nothing_and_local_addresses_are_no_sign():
    for env in ({}, {"DATABASE_URL": "sqlite+aiosqlite:///./walkthrough.db"},
                {"PUBLIC_BASE_URL": "http://192.168.1.20:8080", "PORT": "8081"}):
        config = Config.from_env(env)
        assert config.sandbox and not config.sandbox_public
        assert config.describe()["sandbox_routes"] == "loopback clients only"


def test_sandbox_contradictions_are_refused():
    production = {"LINE_CHANNEL_SECRET": "s" * 32, "LINE_CHANNEL_ACCESS_TOKEN": "t" * 40, "MOF_APP_ID": "EINV1",
                  "MOF_API_KEY": "k" * 24, "APP_SECRET": STRONG_SECRET}
    assert not Config.from_env(production).sandbox
    assert refusal({**production, "SANDBOX": "1"}).variable == "SANDBOX"
    failure = refusal({"SANDBOX": "0"})  # production asked for, without its variables
    assert failure.variable == LINE_VARIABLES and "(SANDBOX=0)" in failure.reason
    assert refusal({"SANDBOX": "maybe"}).variable == "SANDBOX"
    # The admin CLI does not start the service: no sandbox rule for it.
    assert Config.from_env({"DATABASE_URL": "postgresql+asyncpg://app@db/prod", "DYNO": "run.1"}, service=False)


def test_decode_memory_budget_defaults_and_bounds():
    """DECODE_MEMORY_MB: the photo decodes' memory budget per process (issue 25)."""
    assert Config.from_env({}).decode_memory_mb == Config.decode_memory_mb == 200
    assert Config.from_env({"DECODE_MEMORY_MB": "96"}).decode_memory_mb == 96
    for bad in ("32", "lots", "-1", "100000"):
        with pytest.raises(ConfigError) as error:
            Config.from_env({"DECODE_MEMORY_MB": bad})
        assert error.value.variable == "DECODE_MEMORY_MB"


def test_admin_cli_config_names_the_production_signs_it_sees():
    """Issue 29: admin-cli without LINE credentials on a production database is 'sandbox' by its
    credentials, but knows it is production, so it never writes local LIFF links there."""
    from bot.config import Config

    laptop = Config.from_env({"DATABASE_URL": "postgresql+asyncpg://app@db.example.com/prod"}, service=False)
    assert laptop.sandbox and laptop.production_signs == ("DATABASE_URL is PostgreSQL",)
    local = Config.from_env({"DATABASE_URL": "sqlite+aiosqlite:///./walkthrough.db"}, service=False)
    assert local.sandbox and local.production_signs == ()
