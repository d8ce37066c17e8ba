"""Run Alembic migrations programmatically (used by `siyu migrate`, `make run` and the tests)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

# Alembic's `package:folder` form: it finds the folder through importlib.resources, so the
# migrations run from an installed wheel as they do from the checkout.
SCRIPT_LOCATION = "store:migrations"


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", SCRIPT_LOCATION)
    # ConfigParser interpolation would choke on '%' in URL-encoded passwords.
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(database_url), revision)
