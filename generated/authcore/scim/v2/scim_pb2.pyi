from authcore.v1 import options_pb2 as _options_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListUsersRequest(_message.Message):
    __slots__ = ("filter", "start_index", "count", "sort_by", "sort_order", "attributes", "excluded_attributes")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    START_INDEX_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    SORT_BY_FIELD_NUMBER: _ClassVar[int]
    SORT_ORDER_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    EXCLUDED_ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    filter: str
    start_index: int
    count: int
    sort_by: str
    sort_order: str
    attributes: str
    excluded_attributes: str
    def __init__(self, filter: _Optional[str] = ..., start_index: _Optional[int] = ..., count: _Optional[int] = ..., sort_by: _Optional[str] = ..., sort_order: _Optional[str] = ..., attributes: _Optional[str] = ..., excluded_attributes: _Optional[str] = ...) -> None: ...

class SearchUsersRequest(_message.Message):
    __slots__ = ("schemas", "attributes", "excluded_attributes", "filter", "sort_by", "sort_order", "start_index", "count")
    SCHEMAS_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    EXCLUDED_ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    SORT_BY_FIELD_NUMBER: _ClassVar[int]
    SORT_ORDER_FIELD_NUMBER: _ClassVar[int]
    START_INDEX_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    schemas: _containers.RepeatedScalarFieldContainer[str]
    attributes: _containers.RepeatedScalarFieldContainer[str]
    excluded_attributes: _containers.RepeatedScalarFieldContainer[str]
    filter: str
    sort_by: str
    sort_order: str
    start_index: int
    count: int
    def __init__(self, schemas: _Optional[_Iterable[str]] = ..., attributes: _Optional[_Iterable[str]] = ..., excluded_attributes: _Optional[_Iterable[str]] = ..., filter: _Optional[str] = ..., sort_by: _Optional[str] = ..., sort_order: _Optional[str] = ..., start_index: _Optional[int] = ..., count: _Optional[int] = ...) -> None: ...

class ListUsersResponse(_message.Message):
    __slots__ = ("schemas", "total_results", "start_index", "items_per_page", "resources")
    SCHEMAS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_RESULTS_FIELD_NUMBER: _ClassVar[int]
    START_INDEX_FIELD_NUMBER: _ClassVar[int]
    ITEMS_PER_PAGE_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    schemas: _containers.RepeatedScalarFieldContainer[str]
    total_results: int
    start_index: int
    items_per_page: int
    resources: _containers.RepeatedCompositeFieldContainer[User]
    def __init__(self, schemas: _Optional[_Iterable[str]] = ..., total_results: _Optional[int] = ..., start_index: _Optional[int] = ..., items_per_page: _Optional[int] = ..., resources: _Optional[_Iterable[_Union[User, _Mapping]]] = ...) -> None: ...

class CreateUserRequest(_message.Message):
    __slots__ = ("user", "attributes", "excluded_attributes")
    USER_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    EXCLUDED_ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    user: User
    attributes: str
    excluded_attributes: str
    def __init__(self, user: _Optional[_Union[User, _Mapping]] = ..., attributes: _Optional[str] = ..., excluded_attributes: _Optional[str] = ...) -> None: ...

class GetUserRequest(_message.Message):
    __slots__ = ("id", "attributes", "excluded_attributes", "if_none_match")
    ID_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    EXCLUDED_ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    IF_NONE_MATCH_FIELD_NUMBER: _ClassVar[int]
    id: str
    attributes: str
    excluded_attributes: str
    if_none_match: str
    def __init__(self, id: _Optional[str] = ..., attributes: _Optional[str] = ..., excluded_attributes: _Optional[str] = ..., if_none_match: _Optional[str] = ...) -> None: ...

class ReplaceUserRequest(_message.Message):
    __slots__ = ("id", "user", "attributes", "excluded_attributes", "if_match")
    ID_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    EXCLUDED_ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    IF_MATCH_FIELD_NUMBER: _ClassVar[int]
    id: str
    user: User
    attributes: str
    excluded_attributes: str
    if_match: str
    def __init__(self, id: _Optional[str] = ..., user: _Optional[_Union[User, _Mapping]] = ..., attributes: _Optional[str] = ..., excluded_attributes: _Optional[str] = ..., if_match: _Optional[str] = ...) -> None: ...

class PatchUserRequest(_message.Message):
    __slots__ = ("id", "patch_op", "attributes", "excluded_attributes", "if_match")
    ID_FIELD_NUMBER: _ClassVar[int]
    PATCH_OP_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    EXCLUDED_ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    IF_MATCH_FIELD_NUMBER: _ClassVar[int]
    id: str
    patch_op: PatchOp
    attributes: str
    excluded_attributes: str
    if_match: str
    def __init__(self, id: _Optional[str] = ..., patch_op: _Optional[_Union[PatchOp, _Mapping]] = ..., attributes: _Optional[str] = ..., excluded_attributes: _Optional[str] = ..., if_match: _Optional[str] = ...) -> None: ...

class DeleteUserRequest(_message.Message):
    __slots__ = ("id", "if_match")
    ID_FIELD_NUMBER: _ClassVar[int]
    IF_MATCH_FIELD_NUMBER: _ClassVar[int]
    id: str
    if_match: str
    def __init__(self, id: _Optional[str] = ..., if_match: _Optional[str] = ...) -> None: ...

class DeleteUserResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListGroupsRequest(_message.Message):
    __slots__ = ("filter", "start_index", "count", "sort_by", "sort_order", "attributes", "excluded_attributes")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    START_INDEX_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    SORT_BY_FIELD_NUMBER: _ClassVar[int]
    SORT_ORDER_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    EXCLUDED_ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    filter: str
    start_index: int
    count: int
    sort_by: str
    sort_order: str
    attributes: str
    excluded_attributes: str
    def __init__(self, filter: _Optional[str] = ..., start_index: _Optional[int] = ..., count: _Optional[int] = ..., sort_by: _Optional[str] = ..., sort_order: _Optional[str] = ..., attributes: _Optional[str] = ..., excluded_attributes: _Optional[str] = ...) -> None: ...

class SearchGroupsRequest(_message.Message):
    __slots__ = ("schemas", "attributes", "excluded_attributes", "filter", "sort_by", "sort_order", "start_index", "count")
    SCHEMAS_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    EXCLUDED_ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    SORT_BY_FIELD_NUMBER: _ClassVar[int]
    SORT_ORDER_FIELD_NUMBER: _ClassVar[int]
    START_INDEX_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    schemas: _containers.RepeatedScalarFieldContainer[str]
    attributes: _containers.RepeatedScalarFieldContainer[str]
    excluded_attributes: _containers.RepeatedScalarFieldContainer[str]
    filter: str
    sort_by: str
    sort_order: str
    start_index: int
    count: int
    def __init__(self, schemas: _Optional[_Iterable[str]] = ..., attributes: _Optional[_Iterable[str]] = ..., excluded_attributes: _Optional[_Iterable[str]] = ..., filter: _Optional[str] = ..., sort_by: _Optional[str] = ..., sort_order: _Optional[str] = ..., start_index: _Optional[int] = ..., count: _Optional[int] = ...) -> None: ...

class ListGroupsResponse(_message.Message):
    __slots__ = ("schemas", "total_results", "start_index", "items_per_page", "resources")
    SCHEMAS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_RESULTS_FIELD_NUMBER: _ClassVar[int]
    START_INDEX_FIELD_NUMBER: _ClassVar[int]
    ITEMS_PER_PAGE_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    schemas: _containers.RepeatedScalarFieldContainer[str]
    total_results: int
    start_index: int
    items_per_page: int
    resources: _containers.RepeatedCompositeFieldContainer[Group]
    def __init__(self, schemas: _Optional[_Iterable[str]] = ..., total_results: _Optional[int] = ..., start_index: _Optional[int] = ..., items_per_page: _Optional[int] = ..., resources: _Optional[_Iterable[_Union[Group, _Mapping]]] = ...) -> None: ...

class CreateGroupRequest(_message.Message):
    __slots__ = ("group", "attributes", "excluded_attributes")
    GROUP_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    EXCLUDED_ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    group: Group
    attributes: str
    excluded_attributes: str
    def __init__(self, group: _Optional[_Union[Group, _Mapping]] = ..., attributes: _Optional[str] = ..., excluded_attributes: _Optional[str] = ...) -> None: ...

class GetGroupRequest(_message.Message):
    __slots__ = ("id", "attributes", "excluded_attributes", "if_none_match")
    ID_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    EXCLUDED_ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    IF_NONE_MATCH_FIELD_NUMBER: _ClassVar[int]
    id: str
    attributes: str
    excluded_attributes: str
    if_none_match: str
    def __init__(self, id: _Optional[str] = ..., attributes: _Optional[str] = ..., excluded_attributes: _Optional[str] = ..., if_none_match: _Optional[str] = ...) -> None: ...

class ReplaceGroupRequest(_message.Message):
    __slots__ = ("id", "group", "attributes", "excluded_attributes", "if_match")
    ID_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    EXCLUDED_ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    IF_MATCH_FIELD_NUMBER: _ClassVar[int]
    id: str
    group: Group
    attributes: str
    excluded_attributes: str
    if_match: str
    def __init__(self, id: _Optional[str] = ..., group: _Optional[_Union[Group, _Mapping]] = ..., attributes: _Optional[str] = ..., excluded_attributes: _Optional[str] = ..., if_match: _Optional[str] = ...) -> None: ...

class PatchGroupRequest(_message.Message):
    __slots__ = ("id", "patch_op", "attributes", "excluded_attributes", "if_match")
    ID_FIELD_NUMBER: _ClassVar[int]
    PATCH_OP_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    EXCLUDED_ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    IF_MATCH_FIELD_NUMBER: _ClassVar[int]
    id: str
    patch_op: PatchOp
    attributes: str
    excluded_attributes: str
    if_match: str
    def __init__(self, id: _Optional[str] = ..., patch_op: _Optional[_Union[PatchOp, _Mapping]] = ..., attributes: _Optional[str] = ..., excluded_attributes: _Optional[str] = ..., if_match: _Optional[str] = ...) -> None: ...

class DeleteGroupRequest(_message.Message):
    __slots__ = ("id", "if_match")
    ID_FIELD_NUMBER: _ClassVar[int]
    IF_MATCH_FIELD_NUMBER: _ClassVar[int]
    id: str
    if_match: str
    def __init__(self, id: _Optional[str] = ..., if_match: _Optional[str] = ...) -> None: ...

class DeleteGroupResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Meta(_message.Message):
    __slots__ = ("resource_type", "created", "last_modified", "location", "version")
    RESOURCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    LAST_MODIFIED_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    resource_type: str
    created: str
    last_modified: str
    location: str
    version: str
    def __init__(self, resource_type: _Optional[str] = ..., created: _Optional[str] = ..., last_modified: _Optional[str] = ..., location: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...

class Name(_message.Message):
    __slots__ = ("formatted", "family_name", "given_name", "middle_name", "honorific_prefix", "honorific_suffix")
    FORMATTED_FIELD_NUMBER: _ClassVar[int]
    FAMILY_NAME_FIELD_NUMBER: _ClassVar[int]
    GIVEN_NAME_FIELD_NUMBER: _ClassVar[int]
    MIDDLE_NAME_FIELD_NUMBER: _ClassVar[int]
    HONORIFIC_PREFIX_FIELD_NUMBER: _ClassVar[int]
    HONORIFIC_SUFFIX_FIELD_NUMBER: _ClassVar[int]
    formatted: str
    family_name: str
    given_name: str
    middle_name: str
    honorific_prefix: str
    honorific_suffix: str
    def __init__(self, formatted: _Optional[str] = ..., family_name: _Optional[str] = ..., given_name: _Optional[str] = ..., middle_name: _Optional[str] = ..., honorific_prefix: _Optional[str] = ..., honorific_suffix: _Optional[str] = ...) -> None: ...

class MultiValue(_message.Message):
    __slots__ = ("value", "display", "type", "primary")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_FIELD_NUMBER: _ClassVar[int]
    value: str
    display: str
    type: str
    primary: bool
    def __init__(self, value: _Optional[str] = ..., display: _Optional[str] = ..., type: _Optional[str] = ..., primary: _Optional[bool] = ...) -> None: ...

class Address(_message.Message):
    __slots__ = ("formatted", "street_address", "locality", "region", "postal_code", "country", "type", "primary")
    FORMATTED_FIELD_NUMBER: _ClassVar[int]
    STREET_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    LOCALITY_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    POSTAL_CODE_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_FIELD_NUMBER: _ClassVar[int]
    formatted: str
    street_address: str
    locality: str
    region: str
    postal_code: str
    country: str
    type: str
    primary: bool
    def __init__(self, formatted: _Optional[str] = ..., street_address: _Optional[str] = ..., locality: _Optional[str] = ..., region: _Optional[str] = ..., postal_code: _Optional[str] = ..., country: _Optional[str] = ..., type: _Optional[str] = ..., primary: _Optional[bool] = ...) -> None: ...

class Reference(_message.Message):
    __slots__ = ("value", "ref", "display", "type")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    REF_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    value: str
    ref: str
    display: str
    type: str
    def __init__(self, value: _Optional[str] = ..., ref: _Optional[str] = ..., display: _Optional[str] = ..., type: _Optional[str] = ...) -> None: ...

class Manager(_message.Message):
    __slots__ = ("value", "ref", "display_name")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    REF_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    value: str
    ref: str
    display_name: str
    def __init__(self, value: _Optional[str] = ..., ref: _Optional[str] = ..., display_name: _Optional[str] = ...) -> None: ...

class EnterpriseUser(_message.Message):
    __slots__ = ("employee_number", "cost_center", "organization", "division", "department", "manager")
    EMPLOYEE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    COST_CENTER_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_FIELD_NUMBER: _ClassVar[int]
    DIVISION_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_FIELD_NUMBER: _ClassVar[int]
    MANAGER_FIELD_NUMBER: _ClassVar[int]
    employee_number: str
    cost_center: str
    organization: str
    division: str
    department: str
    manager: Manager
    def __init__(self, employee_number: _Optional[str] = ..., cost_center: _Optional[str] = ..., organization: _Optional[str] = ..., division: _Optional[str] = ..., department: _Optional[str] = ..., manager: _Optional[_Union[Manager, _Mapping]] = ...) -> None: ...

class User(_message.Message):
    __slots__ = ("schemas", "id", "external_id", "meta", "user_name", "name", "display_name", "nick_name", "profile_url", "title", "user_type", "preferred_language", "locale", "timezone", "active", "password", "emails", "phone_numbers", "ims", "photos", "addresses", "groups", "entitlements", "roles", "x509_certificates", "enterprise_user")
    SCHEMAS_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_ID_FIELD_NUMBER: _ClassVar[int]
    META_FIELD_NUMBER: _ClassVar[int]
    USER_NAME_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    NICK_NAME_FIELD_NUMBER: _ClassVar[int]
    PROFILE_URL_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    USER_TYPE_FIELD_NUMBER: _ClassVar[int]
    PREFERRED_LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    LOCALE_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    EMAILS_FIELD_NUMBER: _ClassVar[int]
    PHONE_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    IMS_FIELD_NUMBER: _ClassVar[int]
    PHOTOS_FIELD_NUMBER: _ClassVar[int]
    ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    ENTITLEMENTS_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    X509_CERTIFICATES_FIELD_NUMBER: _ClassVar[int]
    ENTERPRISE_USER_FIELD_NUMBER: _ClassVar[int]
    schemas: _containers.RepeatedScalarFieldContainer[str]
    id: str
    external_id: str
    meta: Meta
    user_name: str
    name: Name
    display_name: str
    nick_name: str
    profile_url: str
    title: str
    user_type: str
    preferred_language: str
    locale: str
    timezone: str
    active: bool
    password: str
    emails: _containers.RepeatedCompositeFieldContainer[MultiValue]
    phone_numbers: _containers.RepeatedCompositeFieldContainer[MultiValue]
    ims: _containers.RepeatedCompositeFieldContainer[MultiValue]
    photos: _containers.RepeatedCompositeFieldContainer[MultiValue]
    addresses: _containers.RepeatedCompositeFieldContainer[Address]
    groups: _containers.RepeatedCompositeFieldContainer[Reference]
    entitlements: _containers.RepeatedCompositeFieldContainer[MultiValue]
    roles: _containers.RepeatedCompositeFieldContainer[MultiValue]
    x509_certificates: _containers.RepeatedCompositeFieldContainer[MultiValue]
    enterprise_user: EnterpriseUser
    def __init__(self, schemas: _Optional[_Iterable[str]] = ..., id: _Optional[str] = ..., external_id: _Optional[str] = ..., meta: _Optional[_Union[Meta, _Mapping]] = ..., user_name: _Optional[str] = ..., name: _Optional[_Union[Name, _Mapping]] = ..., display_name: _Optional[str] = ..., nick_name: _Optional[str] = ..., profile_url: _Optional[str] = ..., title: _Optional[str] = ..., user_type: _Optional[str] = ..., preferred_language: _Optional[str] = ..., locale: _Optional[str] = ..., timezone: _Optional[str] = ..., active: _Optional[bool] = ..., password: _Optional[str] = ..., emails: _Optional[_Iterable[_Union[MultiValue, _Mapping]]] = ..., phone_numbers: _Optional[_Iterable[_Union[MultiValue, _Mapping]]] = ..., ims: _Optional[_Iterable[_Union[MultiValue, _Mapping]]] = ..., photos: _Optional[_Iterable[_Union[MultiValue, _Mapping]]] = ..., addresses: _Optional[_Iterable[_Union[Address, _Mapping]]] = ..., groups: _Optional[_Iterable[_Union[Reference, _Mapping]]] = ..., entitlements: _Optional[_Iterable[_Union[MultiValue, _Mapping]]] = ..., roles: _Optional[_Iterable[_Union[MultiValue, _Mapping]]] = ..., x509_certificates: _Optional[_Iterable[_Union[MultiValue, _Mapping]]] = ..., enterprise_user: _Optional[_Union[EnterpriseUser, _Mapping]] = ...) -> None: ...

class Group(_message.Message):
    __slots__ = ("schemas", "id", "external_id", "meta", "display_name", "members")
    SCHEMAS_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_ID_FIELD_NUMBER: _ClassVar[int]
    META_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    schemas: _containers.RepeatedScalarFieldContainer[str]
    id: str
    external_id: str
    meta: Meta
    display_name: str
    members: _containers.RepeatedCompositeFieldContainer[Reference]
    def __init__(self, schemas: _Optional[_Iterable[str]] = ..., id: _Optional[str] = ..., external_id: _Optional[str] = ..., meta: _Optional[_Union[Meta, _Mapping]] = ..., display_name: _Optional[str] = ..., members: _Optional[_Iterable[_Union[Reference, _Mapping]]] = ...) -> None: ...

class PatchOperation(_message.Message):
    __slots__ = ("op", "path", "value")
    OP_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    op: str
    path: str
    value: _struct_pb2.Value
    def __init__(self, op: _Optional[str] = ..., path: _Optional[str] = ..., value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...

class PatchOp(_message.Message):
    __slots__ = ("schemas", "operations")
    SCHEMAS_FIELD_NUMBER: _ClassVar[int]
    OPERATIONS_FIELD_NUMBER: _ClassVar[int]
    schemas: _containers.RepeatedScalarFieldContainer[str]
    operations: _containers.RepeatedCompositeFieldContainer[PatchOperation]
    def __init__(self, schemas: _Optional[_Iterable[str]] = ..., operations: _Optional[_Iterable[_Union[PatchOperation, _Mapping]]] = ...) -> None: ...

class SearchResourcesRequest(_message.Message):
    __slots__ = ("schemas", "attributes", "excluded_attributes", "filter", "sort_by", "sort_order", "start_index", "count")
    SCHEMAS_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    EXCLUDED_ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    SORT_BY_FIELD_NUMBER: _ClassVar[int]
    SORT_ORDER_FIELD_NUMBER: _ClassVar[int]
    START_INDEX_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    schemas: _containers.RepeatedScalarFieldContainer[str]
    attributes: _containers.RepeatedScalarFieldContainer[str]
    excluded_attributes: _containers.RepeatedScalarFieldContainer[str]
    filter: str
    sort_by: str
    sort_order: str
    start_index: int
    count: int
    def __init__(self, schemas: _Optional[_Iterable[str]] = ..., attributes: _Optional[_Iterable[str]] = ..., excluded_attributes: _Optional[_Iterable[str]] = ..., filter: _Optional[str] = ..., sort_by: _Optional[str] = ..., sort_order: _Optional[str] = ..., start_index: _Optional[int] = ..., count: _Optional[int] = ...) -> None: ...

class SearchResourcesResponse(_message.Message):
    __slots__ = ("schemas", "total_results", "resources")
    SCHEMAS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_RESULTS_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    schemas: _containers.RepeatedScalarFieldContainer[str]
    total_results: int
    resources: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Struct]
    def __init__(self, schemas: _Optional[_Iterable[str]] = ..., total_results: _Optional[int] = ..., resources: _Optional[_Iterable[_Union[_struct_pb2.Struct, _Mapping]]] = ...) -> None: ...

class GetServiceProviderConfigRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Supported(_message.Message):
    __slots__ = ("supported",)
    SUPPORTED_FIELD_NUMBER: _ClassVar[int]
    supported: bool
    def __init__(self, supported: _Optional[bool] = ...) -> None: ...

class BulkSupport(_message.Message):
    __slots__ = ("supported", "max_operations", "max_payload_size")
    SUPPORTED_FIELD_NUMBER: _ClassVar[int]
    MAX_OPERATIONS_FIELD_NUMBER: _ClassVar[int]
    MAX_PAYLOAD_SIZE_FIELD_NUMBER: _ClassVar[int]
    supported: bool
    max_operations: int
    max_payload_size: int
    def __init__(self, supported: _Optional[bool] = ..., max_operations: _Optional[int] = ..., max_payload_size: _Optional[int] = ...) -> None: ...

class FilterSupport(_message.Message):
    __slots__ = ("supported", "max_results")
    SUPPORTED_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    supported: bool
    max_results: int
    def __init__(self, supported: _Optional[bool] = ..., max_results: _Optional[int] = ...) -> None: ...

class AuthenticationScheme(_message.Message):
    __slots__ = ("type", "name", "description", "spec_uri", "documentation_uri", "primary")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SPEC_URI_FIELD_NUMBER: _ClassVar[int]
    DOCUMENTATION_URI_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_FIELD_NUMBER: _ClassVar[int]
    type: str
    name: str
    description: str
    spec_uri: str
    documentation_uri: str
    primary: bool
    def __init__(self, type: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., spec_uri: _Optional[str] = ..., documentation_uri: _Optional[str] = ..., primary: _Optional[bool] = ...) -> None: ...

class ServiceProviderConfig(_message.Message):
    __slots__ = ("schemas", "documentation_uri", "patch", "bulk", "filter", "change_password", "sort", "etag", "authentication_schemes", "meta")
    SCHEMAS_FIELD_NUMBER: _ClassVar[int]
    DOCUMENTATION_URI_FIELD_NUMBER: _ClassVar[int]
    PATCH_FIELD_NUMBER: _ClassVar[int]
    BULK_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    CHANGE_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    SORT_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    AUTHENTICATION_SCHEMES_FIELD_NUMBER: _ClassVar[int]
    META_FIELD_NUMBER: _ClassVar[int]
    schemas: _containers.RepeatedScalarFieldContainer[str]
    documentation_uri: str
    patch: Supported
    bulk: BulkSupport
    filter: FilterSupport
    change_password: Supported
    sort: Supported
    etag: Supported
    authentication_schemes: _containers.RepeatedCompositeFieldContainer[AuthenticationScheme]
    meta: Meta
    def __init__(self, schemas: _Optional[_Iterable[str]] = ..., documentation_uri: _Optional[str] = ..., patch: _Optional[_Union[Supported, _Mapping]] = ..., bulk: _Optional[_Union[BulkSupport, _Mapping]] = ..., filter: _Optional[_Union[FilterSupport, _Mapping]] = ..., change_password: _Optional[_Union[Supported, _Mapping]] = ..., sort: _Optional[_Union[Supported, _Mapping]] = ..., etag: _Optional[_Union[Supported, _Mapping]] = ..., authentication_schemes: _Optional[_Iterable[_Union[AuthenticationScheme, _Mapping]]] = ..., meta: _Optional[_Union[Meta, _Mapping]] = ...) -> None: ...

class ListResourceTypesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetResourceTypeRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class SchemaExtension(_message.Message):
    __slots__ = ("schema", "required")
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_FIELD_NUMBER: _ClassVar[int]
    schema: str
    required: bool
    def __init__(self, schema: _Optional[str] = ..., required: _Optional[bool] = ...) -> None: ...

class ResourceType(_message.Message):
    __slots__ = ("schemas", "id", "name", "description", "endpoint", "schema", "schema_extensions", "meta")
    SCHEMAS_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_EXTENSIONS_FIELD_NUMBER: _ClassVar[int]
    META_FIELD_NUMBER: _ClassVar[int]
    schemas: _containers.RepeatedScalarFieldContainer[str]
    id: str
    name: str
    description: str
    endpoint: str
    schema: str
    schema_extensions: _containers.RepeatedCompositeFieldContainer[SchemaExtension]
    meta: Meta
    def __init__(self, schemas: _Optional[_Iterable[str]] = ..., id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., endpoint: _Optional[str] = ..., schema: _Optional[str] = ..., schema_extensions: _Optional[_Iterable[_Union[SchemaExtension, _Mapping]]] = ..., meta: _Optional[_Union[Meta, _Mapping]] = ...) -> None: ...

class ListResourceTypesResponse(_message.Message):
    __slots__ = ("schemas", "total_results", "start_index", "items_per_page", "resources")
    SCHEMAS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_RESULTS_FIELD_NUMBER: _ClassVar[int]
    START_INDEX_FIELD_NUMBER: _ClassVar[int]
    ITEMS_PER_PAGE_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    schemas: _containers.RepeatedScalarFieldContainer[str]
    total_results: int
    start_index: int
    items_per_page: int
    resources: _containers.RepeatedCompositeFieldContainer[ResourceType]
    def __init__(self, schemas: _Optional[_Iterable[str]] = ..., total_results: _Optional[int] = ..., start_index: _Optional[int] = ..., items_per_page: _Optional[int] = ..., resources: _Optional[_Iterable[_Union[ResourceType, _Mapping]]] = ...) -> None: ...

class ListSchemasRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetSchemaRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class SchemaAttribute(_message.Message):
    __slots__ = ("name", "type", "multi_valued", "description", "required", "canonical_values", "case_exact", "mutability", "returned", "uniqueness", "reference_types", "sub_attributes")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    MULTI_VALUED_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_FIELD_NUMBER: _ClassVar[int]
    CANONICAL_VALUES_FIELD_NUMBER: _ClassVar[int]
    CASE_EXACT_FIELD_NUMBER: _ClassVar[int]
    MUTABILITY_FIELD_NUMBER: _ClassVar[int]
    RETURNED_FIELD_NUMBER: _ClassVar[int]
    UNIQUENESS_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_TYPES_FIELD_NUMBER: _ClassVar[int]
    SUB_ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: str
    multi_valued: bool
    description: str
    required: bool
    canonical_values: _containers.RepeatedScalarFieldContainer[str]
    case_exact: bool
    mutability: str
    returned: str
    uniqueness: str
    reference_types: _containers.RepeatedScalarFieldContainer[str]
    sub_attributes: _containers.RepeatedCompositeFieldContainer[SchemaAttribute]
    def __init__(self, name: _Optional[str] = ..., type: _Optional[str] = ..., multi_valued: _Optional[bool] = ..., description: _Optional[str] = ..., required: _Optional[bool] = ..., canonical_values: _Optional[_Iterable[str]] = ..., case_exact: _Optional[bool] = ..., mutability: _Optional[str] = ..., returned: _Optional[str] = ..., uniqueness: _Optional[str] = ..., reference_types: _Optional[_Iterable[str]] = ..., sub_attributes: _Optional[_Iterable[_Union[SchemaAttribute, _Mapping]]] = ...) -> None: ...

class Schema(_message.Message):
    __slots__ = ("schemas", "id", "name", "description", "attributes", "meta")
    SCHEMAS_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    META_FIELD_NUMBER: _ClassVar[int]
    schemas: _containers.RepeatedScalarFieldContainer[str]
    id: str
    name: str
    description: str
    attributes: _containers.RepeatedCompositeFieldContainer[SchemaAttribute]
    meta: Meta
    def __init__(self, schemas: _Optional[_Iterable[str]] = ..., id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., attributes: _Optional[_Iterable[_Union[SchemaAttribute, _Mapping]]] = ..., meta: _Optional[_Union[Meta, _Mapping]] = ...) -> None: ...

class ListSchemasResponse(_message.Message):
    __slots__ = ("schemas", "total_results", "start_index", "items_per_page", "resources")
    SCHEMAS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_RESULTS_FIELD_NUMBER: _ClassVar[int]
    START_INDEX_FIELD_NUMBER: _ClassVar[int]
    ITEMS_PER_PAGE_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    schemas: _containers.RepeatedScalarFieldContainer[str]
    total_results: int
    start_index: int
    items_per_page: int
    resources: _containers.RepeatedCompositeFieldContainer[Schema]
    def __init__(self, schemas: _Optional[_Iterable[str]] = ..., total_results: _Optional[int] = ..., start_index: _Optional[int] = ..., items_per_page: _Optional[int] = ..., resources: _Optional[_Iterable[_Union[Schema, _Mapping]]] = ...) -> None: ...
