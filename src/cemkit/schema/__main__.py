"""``python -m cemkit.schema [FOLDER]``: write the pack files' JSON Schemas (default ``docs/schema``)."""

import sys

from . import write_json_schemas

for path in write_json_schemas(sys.argv[1] if len(sys.argv) > 1 else "docs/schema"):
    print(path)
