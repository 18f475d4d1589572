"""drf-spectacular post-processing: document the one error shape on every operation."""

ERROR_SCHEMA = {
    "type": "object",
    "description": "The one error shape of the API (see docs/api.md).",
    "properties": {
        "status": {"type": "integer", "description": "The HTTP status, repeated."},
        "code": {"type": "string", "description": "A stable, machine-readable error code."},
        "detail": {"type": "string", "description": "A human-readable message."},
        "fields": {
            "type": "object",
            "description": "On 400 only: field name (or row index) → messages.",
            "additionalProperties": {},
        },
        "request_id": {"type": "string", "nullable": True, "description": "Same as the X-Request-ID header."},
    },
    "required": ["status", "code", "detail", "request_id"],
}

DESCRIPTIONS = {
    "400": "Invalid input; `fields` names each invalid field.",
    "401": "No or invalid credentials.",
    "403": "Authenticated, but not allowed.",
    "404": "Not found (or another owner's object).",
    "413": "Request body too large.",
    "429": "Too many requests; see Retry-After.",
    "503": "The database is unavailable; see Retry-After.",
}
METHODS = {"get", "put", "patch", "post", "delete"}


def add_error_responses(result, generator, request, public):
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_SCHEMA
    ref = {"$ref": "#/components/schemas/Error"}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in METHODS:
                continue
            codes = ["401", "403", "429", "503"]
            if "{" in path:
                codes.append("404")
            if "requestBody" in operation or operation.get("parameters"):
                codes.append("400")
            if "requestBody" in operation:
                codes.append("413")
            responses = operation.setdefault("responses", {})
            for code in codes:
                responses.setdefault(
                    code, {"description": DESCRIPTIONS[code], "content": {"application/json": {"schema": ref}}}
                )
    return result
