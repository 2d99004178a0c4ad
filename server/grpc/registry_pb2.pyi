import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SchemaType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SCHEMA_TYPE_UNSPECIFIED: _ClassVar[SchemaType]
    SCHEMA_TYPE_AVRO: _ClassVar[SchemaType]
    SCHEMA_TYPE_PROTOBUF: _ClassVar[SchemaType]
    SCHEMA_TYPE_JSON: _ClassVar[SchemaType]

class LifecycleState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LIFECYCLE_STATE_UNSPECIFIED: _ClassVar[LifecycleState]
    LIFECYCLE_STATE_DRAFT: _ClassVar[LifecycleState]
    LIFECYCLE_STATE_ACTIVE: _ClassVar[LifecycleState]
    LIFECYCLE_STATE_DEPRECATED: _ClassVar[LifecycleState]
    LIFECYCLE_STATE_ARCHIVED: _ClassVar[LifecycleState]
SCHEMA_TYPE_UNSPECIFIED: SchemaType
SCHEMA_TYPE_AVRO: SchemaType
SCHEMA_TYPE_PROTOBUF: SchemaType
SCHEMA_TYPE_JSON: SchemaType
LIFECYCLE_STATE_UNSPECIFIED: LifecycleState
LIFECYCLE_STATE_DRAFT: LifecycleState
LIFECYCLE_STATE_ACTIVE: LifecycleState
LIFECYCLE_STATE_DEPRECATED: LifecycleState
LIFECYCLE_STATE_ARCHIVED: LifecycleState

class SchemaReference(_message.Message):
    __slots__ = ("name", "subject", "version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    subject: str
    version: int
    def __init__(self, name: _Optional[str] = ..., subject: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class Schema(_message.Message):
    __slots__ = ("id", "schema_type", "schema", "references")
    ID_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_TYPE_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    REFERENCES_FIELD_NUMBER: _ClassVar[int]
    id: int
    schema_type: SchemaType
    schema: str
    references: _containers.RepeatedCompositeFieldContainer[SchemaReference]
    def __init__(self, id: _Optional[int] = ..., schema_type: _Optional[_Union[SchemaType, str]] = ..., schema: _Optional[str] = ..., references: _Optional[_Iterable[_Union[SchemaReference, _Mapping]]] = ...) -> None: ...

class SubjectVersion(_message.Message):
    __slots__ = ("subject", "version", "id", "schema_type", "schema", "references", "state", "sunset_date", "deleted", "deprecated_at")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_TYPE_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    REFERENCES_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SUNSET_DATE_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    DEPRECATED_AT_FIELD_NUMBER: _ClassVar[int]
    subject: str
    version: int
    id: int
    schema_type: SchemaType
    schema: str
    references: _containers.RepeatedCompositeFieldContainer[SchemaReference]
    state: LifecycleState
    sunset_date: str
    deleted: bool
    deprecated_at: _timestamp_pb2.Timestamp
    def __init__(self, subject: _Optional[str] = ..., version: _Optional[int] = ..., id: _Optional[int] = ..., schema_type: _Optional[_Union[SchemaType, str]] = ..., schema: _Optional[str] = ..., references: _Optional[_Iterable[_Union[SchemaReference, _Mapping]]] = ..., state: _Optional[_Union[LifecycleState, str]] = ..., sunset_date: _Optional[str] = ..., deleted: _Optional[bool] = ..., deprecated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ErrorDetail(_message.Message):
    __slots__ = ("error_code", "message")
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    error_code: int
    message: str
    def __init__(self, error_code: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class GetSchemaByIdRequest(_message.Message):
    __slots__ = ("id", "format")
    ID_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    id: int
    format: str
    def __init__(self, id: _Optional[int] = ..., format: _Optional[str] = ...) -> None: ...

class GetSchemaByIdResponse(_message.Message):
    __slots__ = ("schema",)
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    schema: Schema
    def __init__(self, schema: _Optional[_Union[Schema, _Mapping]] = ...) -> None: ...

class GetSchemasByIdsRequest(_message.Message):
    __slots__ = ("ids",)
    IDS_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, ids: _Optional[_Iterable[int]] = ...) -> None: ...

class GetSchemasByIdsResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[SchemaLookup]
    def __init__(self, results: _Optional[_Iterable[_Union[SchemaLookup, _Mapping]]] = ...) -> None: ...

class SchemaLookup(_message.Message):
    __slots__ = ("id", "schema", "error")
    ID_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    id: int
    schema: Schema
    error: ErrorDetail
    def __init__(self, id: _Optional[int] = ..., schema: _Optional[_Union[Schema, _Mapping]] = ..., error: _Optional[_Union[ErrorDetail, _Mapping]] = ...) -> None: ...

class ListSubjectsRequest(_message.Message):
    __slots__ = ("subject_prefix", "include_deleted")
    SUBJECT_PREFIX_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_DELETED_FIELD_NUMBER: _ClassVar[int]
    subject_prefix: str
    include_deleted: bool
    def __init__(self, subject_prefix: _Optional[str] = ..., include_deleted: _Optional[bool] = ...) -> None: ...

class ListSubjectsResponse(_message.Message):
    __slots__ = ("subjects",)
    SUBJECTS_FIELD_NUMBER: _ClassVar[int]
    subjects: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, subjects: _Optional[_Iterable[str]] = ...) -> None: ...

class ListVersionsRequest(_message.Message):
    __slots__ = ("subject", "include_deleted")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_DELETED_FIELD_NUMBER: _ClassVar[int]
    subject: str
    include_deleted: bool
    def __init__(self, subject: _Optional[str] = ..., include_deleted: _Optional[bool] = ...) -> None: ...

class ListVersionsResponse(_message.Message):
    __slots__ = ("versions",)
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, versions: _Optional[_Iterable[int]] = ...) -> None: ...

class GetSubjectVersionRequest(_message.Message):
    __slots__ = ("subject", "version", "include_deleted", "format")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_DELETED_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    subject: str
    version: int
    include_deleted: bool
    format: str
    def __init__(self, subject: _Optional[str] = ..., version: _Optional[int] = ..., include_deleted: _Optional[bool] = ..., format: _Optional[str] = ...) -> None: ...

class GetSubjectVersionResponse(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: SubjectVersion
    def __init__(self, version: _Optional[_Union[SubjectVersion, _Mapping]] = ...) -> None: ...

class LookupSchemaRequest(_message.Message):
    __slots__ = ("subject", "schema", "schema_type", "references", "include_deleted")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_TYPE_FIELD_NUMBER: _ClassVar[int]
    REFERENCES_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_DELETED_FIELD_NUMBER: _ClassVar[int]
    subject: str
    schema: str
    schema_type: SchemaType
    references: _containers.RepeatedCompositeFieldContainer[SchemaReference]
    include_deleted: bool
    def __init__(self, subject: _Optional[str] = ..., schema: _Optional[str] = ..., schema_type: _Optional[_Union[SchemaType, str]] = ..., references: _Optional[_Iterable[_Union[SchemaReference, _Mapping]]] = ..., include_deleted: _Optional[bool] = ...) -> None: ...

class LookupSchemaResponse(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: SubjectVersion
    def __init__(self, version: _Optional[_Union[SubjectVersion, _Mapping]] = ...) -> None: ...

class CheckCompatibilityRequest(_message.Message):
    __slots__ = ("subject", "version", "schema", "schema_type", "references")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_TYPE_FIELD_NUMBER: _ClassVar[int]
    REFERENCES_FIELD_NUMBER: _ClassVar[int]
    subject: str
    version: int
    schema: str
    schema_type: SchemaType
    references: _containers.RepeatedCompositeFieldContainer[SchemaReference]
    def __init__(self, subject: _Optional[str] = ..., version: _Optional[int] = ..., schema: _Optional[str] = ..., schema_type: _Optional[_Union[SchemaType, str]] = ..., references: _Optional[_Iterable[_Union[SchemaReference, _Mapping]]] = ...) -> None: ...

class CheckCompatibilityResponse(_message.Message):
    __slots__ = ("is_compatible", "messages")
    IS_COMPATIBLE_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    is_compatible: bool
    messages: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, is_compatible: _Optional[bool] = ..., messages: _Optional[_Iterable[str]] = ...) -> None: ...

class Record(_message.Message):
    __slots__ = ("json", "wire_payload")
    JSON_FIELD_NUMBER: _ClassVar[int]
    WIRE_PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    json: bytes
    wire_payload: bytes
    def __init__(self, json: _Optional[bytes] = ..., wire_payload: _Optional[bytes] = ...) -> None: ...

class ValidationTarget(_message.Message):
    __slots__ = ("schema_id", "subject_version")
    SCHEMA_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_VERSION_FIELD_NUMBER: _ClassVar[int]
    schema_id: int
    subject_version: SubjectVersionRef
    def __init__(self, schema_id: _Optional[int] = ..., subject_version: _Optional[_Union[SubjectVersionRef, _Mapping]] = ...) -> None: ...

class SubjectVersionRef(_message.Message):
    __slots__ = ("subject", "version")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    subject: str
    version: int
    def __init__(self, subject: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class DataError(_message.Message):
    __slots__ = ("path", "message", "rule")
    PATH_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    path: str
    message: str
    rule: str
    def __init__(self, path: _Optional[str] = ..., message: _Optional[str] = ..., rule: _Optional[str] = ...) -> None: ...

class RecordResult(_message.Message):
    __slots__ = ("valid", "errors")
    VALID_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    valid: bool
    errors: _containers.RepeatedCompositeFieldContainer[DataError]
    def __init__(self, valid: _Optional[bool] = ..., errors: _Optional[_Iterable[_Union[DataError, _Mapping]]] = ...) -> None: ...

class ValidateDataRequest(_message.Message):
    __slots__ = ("target", "records")
    TARGET_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    target: ValidationTarget
    records: _containers.RepeatedCompositeFieldContainer[Record]
    def __init__(self, target: _Optional[_Union[ValidationTarget, _Mapping]] = ..., records: _Optional[_Iterable[_Union[Record, _Mapping]]] = ...) -> None: ...

class ValidateDataResponse(_message.Message):
    __slots__ = ("results", "schema_id", "valid_count", "invalid_count")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_ID_FIELD_NUMBER: _ClassVar[int]
    VALID_COUNT_FIELD_NUMBER: _ClassVar[int]
    INVALID_COUNT_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[RecordResult]
    schema_id: int
    valid_count: int
    invalid_count: int
    def __init__(self, results: _Optional[_Iterable[_Union[RecordResult, _Mapping]]] = ..., schema_id: _Optional[int] = ..., valid_count: _Optional[int] = ..., invalid_count: _Optional[int] = ...) -> None: ...

class ValidateDataStreamRequest(_message.Message):
    __slots__ = ("target", "records")
    TARGET_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    target: ValidationTarget
    records: _containers.RepeatedCompositeFieldContainer[Record]
    def __init__(self, target: _Optional[_Union[ValidationTarget, _Mapping]] = ..., records: _Optional[_Iterable[_Union[Record, _Mapping]]] = ...) -> None: ...

class ValidateDataStreamResponse(_message.Message):
    __slots__ = ("results", "schema_id", "valid_count", "invalid_count")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_ID_FIELD_NUMBER: _ClassVar[int]
    VALID_COUNT_FIELD_NUMBER: _ClassVar[int]
    INVALID_COUNT_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[RecordResult]
    schema_id: int
    valid_count: int
    invalid_count: int
    def __init__(self, results: _Optional[_Iterable[_Union[RecordResult, _Mapping]]] = ..., schema_id: _Optional[int] = ..., valid_count: _Optional[int] = ..., invalid_count: _Optional[int] = ...) -> None: ...

class Rule(_message.Message):
    __slots__ = ("name", "expr", "kind", "doc", "on_failure")
    NAME_FIELD_NUMBER: _ClassVar[int]
    EXPR_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    DOC_FIELD_NUMBER: _ClassVar[int]
    ON_FAILURE_FIELD_NUMBER: _ClassVar[int]
    name: str
    expr: str
    kind: str
    doc: str
    on_failure: str
    def __init__(self, name: _Optional[str] = ..., expr: _Optional[str] = ..., kind: _Optional[str] = ..., doc: _Optional[str] = ..., on_failure: _Optional[str] = ...) -> None: ...

class TagList(_message.Message):
    __slots__ = ("tags",)
    TAGS_FIELD_NUMBER: _ClassVar[int]
    tags: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, tags: _Optional[_Iterable[str]] = ...) -> None: ...

class Metadata(_message.Message):
    __slots__ = ("properties", "tags", "sensitive")
    class PropertiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: TagList
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[TagList, _Mapping]] = ...) -> None: ...
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    SENSITIVE_FIELD_NUMBER: _ClassVar[int]
    properties: _containers.ScalarMap[str, str]
    tags: _containers.MessageMap[str, TagList]
    sensitive: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, properties: _Optional[_Mapping[str, str]] = ..., tags: _Optional[_Mapping[str, TagList]] = ..., sensitive: _Optional[_Iterable[str]] = ...) -> None: ...

class RegisterSchemaRequest(_message.Message):
    __slots__ = ("subject", "schema", "schema_type", "references", "rules", "set_rules", "metadata")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_TYPE_FIELD_NUMBER: _ClassVar[int]
    REFERENCES_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    SET_RULES_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    subject: str
    schema: str
    schema_type: SchemaType
    references: _containers.RepeatedCompositeFieldContainer[SchemaReference]
    rules: _containers.RepeatedCompositeFieldContainer[Rule]
    set_rules: bool
    metadata: Metadata
    def __init__(self, subject: _Optional[str] = ..., schema: _Optional[str] = ..., schema_type: _Optional[_Union[SchemaType, str]] = ..., references: _Optional[_Iterable[_Union[SchemaReference, _Mapping]]] = ..., rules: _Optional[_Iterable[_Union[Rule, _Mapping]]] = ..., set_rules: _Optional[bool] = ..., metadata: _Optional[_Union[Metadata, _Mapping]] = ...) -> None: ...

class RegisterSchemaResponse(_message.Message):
    __slots__ = ("id", "version")
    ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    id: int
    version: int
    def __init__(self, id: _Optional[int] = ..., version: _Optional[int] = ...) -> None: ...
