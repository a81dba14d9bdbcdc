"""Alembic environment: runs on the connection handed in by ``nocontact.db.migrate``."""

from alembic import context
from sqlmodel import SQLModel

import nocontact.channels.sms.models  # registers the SMS tables
import nocontact.coparent.models
import nocontact.models
import nocontact.orders.models
import nocontact.web.models  # noqa: F401

target_metadata = SQLModel.metadata
connection = context.config.attributes.get("connection")
if connection is None:  # command-line use: alembic -x url=...
    from nocontact.db import make_engine

    url = context.get_x_argument(as_dictionary=True)["url"]
    connection = make_engine(url).connect()

context.configure(
    connection=connection,
    target_metadata=target_metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
