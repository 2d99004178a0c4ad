"""The SQL index: the only package that knows its tables, for SQLite and PostgreSQL alike.

``llm-registry build`` writes it (one transaction per build, so readers never see half a build); the
server and the catalog read it through :class:`Reader`, which hands out the frozen rows of
:mod:`registry.read_model`, never driver rows. Everything here is derived from git and can be deleted
and rebuilt.

One layout serves both engines: portable column types (TEXT, INTEGER, BIGINT; booleans as 0/1, JSON as
TEXT), ``INSERT ... ON CONFLICT`` upserts, and ``?`` placeholders that the PostgreSQL dialect rewrites
to ``%s``. Lists are sorted in Python, so the order does not depend on a database collation.

Modules: :mod:`.layout` (tables, migrations), :mod:`.engines` (SQLite and PostgreSQL, the writers'
lock, connections that never cross ``fork()``), :mod:`.index` (:class:`SqlIndex`: opening, checking
and setting aside a damaged file), :mod:`.writer` and :mod:`.reader` (a build's transaction, the read
API), :mod:`.records` (the rows a build writes), :mod:`.errors`.
"""
from builder.sql_index.engines import WRITER_WAIT_SECONDS, open_connections
from builder.sql_index.errors import IndexLayoutError, IndexUnavailable
from builder.sql_index.index import SqlIndex
from builder.sql_index.layout import CHANGES_KEPT, DATA_TABLES, MIGRATIONS, check_layout, migrate
from builder.sql_index.reader import Reader
from builder.sql_index.records import SchemaRecord, SubjectRecord, VersionRecord
from builder.sql_index.writer import Writer
from registry.read_model import BuildInfo, SchemaRow, SubjectRow, VersionRow

__all__ = ["BuildInfo", "CHANGES_KEPT", "DATA_TABLES", "IndexLayoutError", "IndexUnavailable", "MIGRATIONS", "Reader",
           "SchemaRecord", "SchemaRow", "SqlIndex", "SubjectRecord", "SubjectRow", "VersionRecord", "VersionRow",
           "WRITER_WAIT_SECONDS", "Writer", "check_layout", "migrate", "open_connections"]
