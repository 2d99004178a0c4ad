"""The JSON Schemas shipped in registry/schemas are valid against their metaschemas (the code that loads
them, registry.yamldoc, does not re-check this in every process)."""
import json
from importlib import resources

import jsonschema
import pytest

SCHEMAS = sorted(p.name for p in resources.files("registry").joinpath("schemas").iterdir() if p.name.endswith(".json"))


def test_the_shipped_schemas_are_there():
    assert {"registry.schema.json", "subject.schema.json"} <= set(SCHEMAS)


@pytest.mark.parametrize("name", SCHEMAS)
def test_a_shipped_schema_is_valid_against_its_metaschema(name):
    schema = json.loads(resources.files("registry").joinpath("schemas", name).read_text("utf-8"))
    jsonschema.validators.validator_for(schema).check_schema(schema)
