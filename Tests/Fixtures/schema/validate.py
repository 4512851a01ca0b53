"""Checks protocol messages against protocol/schema/.

Reads JSON lines {"schema": "<file in protocol/schema>", "message": {...}} on
stdin; prints one line per message that does not validate; exits 1 if any.
"""
import json
import pathlib
import sys

import jsonschema

schema_dir = pathlib.Path(sys.argv[1])
store = {}
for path in schema_dir.glob("*.json"):
    schema = json.loads(path.read_text())
    store[schema["$id"]] = schema

failures = 0
for line in sys.stdin:
    item = json.loads(line)
    schema = store["https://pysandbox.dev/schema/v1/" + item["schema"]]
    resolver = jsonschema.RefResolver.from_schema(schema, store=store)
    validator = jsonschema.Draft202012Validator(schema, resolver=resolver)
    for error in validator.iter_errors(item["message"]):
        failures += 1
        print(f"{item['schema']}: {error.message} at {list(error.absolute_path)} in {json.dumps(item['message'])[:300]}")
sys.exit(1 if failures else 0)
