"""The resources this server serves and how it describes them.

The schemas come from scim2-models' RFC 7643 definitions, which match what
`store` keeps: every attribute of the core User (RFC 7643 section 4.1), the
enterprise extension (section 4.3) and Group (section 4.2). /Schemas
therefore describes exactly what round-trips.
"""

from __future__ import annotations

from typing import Any

from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    Context,
    EnterpriseUser,
    ETag,
    Filter,
    Group,
    Meta,
    Patch,
    ResourceType,
    Schema,
    ServiceProviderConfig,
    Sort,
    User,
)

ScimUser = User[EnterpriseUser]
ScimGroup = Group

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIST_RESPONSE_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"

# The most resources one page returns (ServiceProviderConfig filter.maxResults).
MAX_RESULTS = 1000
DEFAULT_COUNT = 100

RESOURCE_TYPES: tuple[type[Any], ...] = (ScimUser, ScimGroup)
SCHEMA_MODELS: tuple[type[Any], ...] = (ScimUser, EnterpriseUser, ScimGroup)


def _dump(obj: Any) -> dict[str, Any]:
    return obj.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)  # type: ignore[no-any-return]


def service_provider_config(base_url: str) -> dict[str, Any]:
    config = ServiceProviderConfig(
        documentation_uri=None,
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=MAX_RESULTS),
        change_password=ChangePassword(supported=True),
        sort=Sort(supported=True),
        etag=ETag(supported=True),
        authentication_schemes=[AuthenticationScheme.model_validate({
            "type": "oauthbearertoken",
            "name": "Admin key",
            "description": "An authcore admin key holding the \"scim\" scope, sent as "
                           "Authorization: Bearer <key>",
            "specUri": "https://www.rfc-editor.org/rfc/rfc6750",
            "primary": True,
        })],
        meta=Meta(resource_type="ServiceProviderConfig",
                  location=f"{base_url}/scim/v2/ServiceProviderConfig"),
    )
    return _dump(config)


def resource_types(base_url: str) -> list[dict[str, Any]]:
    out = []
    for model in RESOURCE_TYPES:
        rt = ResourceType.from_resource(model)
        rt.meta = Meta(resource_type="ResourceType",
                       location=f"{base_url}/scim/v2/ResourceTypes/{rt.id}")
        out.append(_dump(rt))
    return out


def schemas(base_url: str) -> list[dict[str, Any]]:
    out = []
    for model in SCHEMA_MODELS:
        schema: Schema = model.to_schema()
        schema.meta = Meta(resource_type="Schema",
                           location=f"{base_url}/scim/v2/Schemas/{schema.id}")
        out.append(_dump(schema))
    return out
