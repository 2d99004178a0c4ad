"""LLM Schema Registry core: schema formats, compatibility, data-contract rules and the git registry.

Pure Python: no web framework and no database. The builder and the server are shells around it.
"""
from registry.compat import CompatibilityResult, Incompatibility, Mode, Policy, check_compatibility
from registry.formats import ParsedSchema, parse_schema, parse_source
from registry.types import (Field, MappingResolver, Reference, Resolver, SchemaError, SchemaSource,
                            SchemaType)

__all__ = [
    "CompatibilityResult", "Field", "Incompatibility", "MappingResolver", "Mode", "ParsedSchema", "Policy",
    "Reference", "Resolver", "SchemaError", "SchemaSource", "SchemaType", "check_compatibility",
    "parse_schema", "parse_source",
]
