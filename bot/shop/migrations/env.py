"""Alembic environment: migrations run against the URL set by bot.shop.db.upgrade."""
from alembic import context
from sqlalchemy import engine_from_config, pool

from bot.shop.db import Base

config = context.config

connectable = engine_from_config(
    config.get_section(config.config_ini_section), prefix="sqlalchemy.", poolclass=pool.NullPool, future=True
)
with connectable.connect() as connection:
    # render_as_batch: SQLite can only alter tables by copying them.
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
