"""Configuration from the environment: defaults, sandbox detection, one-line errors."""
import pytest

from bot.config import Config, ConfigError


def test_defaults_are_sandbox_with_sqlite():
    config = Config.from_env({})
    assert config.sandbox
    assert config.database_url == "sqlite+aiosqlite:///./data/app.db"
    assert config.redis_url is None
    assert config.port == 8080


def test_heroku_style_postgres_url_gets_the_async_driver():
    config = Config.from_env({"DATABASE_URL": "postgres://u:p@db.example/prod"})
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
    with pytest.raises(ConfigError) as info:
        Config.from_env(env)
    assert info.value.variable == variable
    assert str(info.value).startswith(variable + ":")


def test_production_mode_and_secrets_stay_out_of_repr():
    config = Config.from_env(
        {
            "LINE_CHANNEL_SECRET": "chan-secret-value",
            "LINE_CHANNEL_ACCESS_TOKEN": "access-token-value",
            "MOF_APP_ID": "EINV0001",
            "MOF_API_KEY": "mof-key-value",
            "APP_SECRET": "app-secret-value-0123456789abcdef",
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


def test_decode_memory_budget_defaults_and_bounds():
    """DECODE_MEMORY_MB: the photo decodes' memory budget per process (issue 25)."""
    assert Config.from_env({}).decode_memory_mb == Config.decode_memory_mb == 200
    assert Config.from_env({"DECODE_MEMORY_MB": "96"}).decode_memory_mb == 96
    for bad in ("32", "lots", "-1", "100000"):
        with pytest.raises(ConfigError) as error:
            Config.from_env({"DECODE_MEMORY_MB": bad})
        assert error.value.variable == "DECODE_MEMORY_MB"
