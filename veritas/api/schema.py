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
    "404": "Not found (or another owner's object); an invalid cursor; a page past the last.",
    "413": "Request body too large.",
    "429": "Too many requests; see Retry-After.",
    "503": "The database is unavailable; see Retry-After.",
}
METHODS = {"get", "put", "patch", "post", "delete"}

# Request serializers whose endpoint refuses unknown properties (see closed()).
_closed: set[type] = set()


# Request serializers whose text fields refuse what DRF's CharField refuses (see trimmed()).
_trimmed: set[type] = set()


def _component_names(serializer_classes) -> set[str]:
    """The schema components of these serializers: their names (or the name given with
    extend_schema_serializer, read when the schema is built, after the decorators ran)."""
    names = set()
    for serializer_class in serializer_classes:
        annotation = getattr(serializer_class, "_spectacular_annotation", {})
        name = annotation.get("component_name") or serializer_class.__name__.removesuffix("Serializer")
        names |= {name, f"{name}Request", f"Patched{name}Request"}
    return names


def closed(serializer_class):
    """Class decorator: the schema of this request serializer says additionalProperties:
    false, because the endpoint rejects unknown fields (a typo is a 400, not ignored)."""
    _closed.add(serializer_class)
    return serializer_class


def trimmed(serializer_class):
    """Class decorator: this request serializer's text fields behave as DRF's CharField —
    no NUL character, and a required text is stripped before it is found blank — and its
    schema says so with a pattern (a value of blanks only is not "valid data rejected")."""
    _trimmed.add(serializer_class)
    return serializer_class


def add_error_responses(result, generator, request, public):
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_SCHEMA
    for name in _component_names(_closed) & set(components):
        components[name]["additionalProperties"] = False
    for name in _component_names(_trimmed) & set(components):
        _constrain_body_strings(components[name])
    ref = {"$ref": "#/components/schemas/Error"}
    throttled = _throttled_operations(generator)
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in METHODS:
                continue
            _constrain_query_strings(operation)
            codes = ["401", "403", "503"]
            if (path, method) in throttled:
                codes.append("429")
            query = {p.get("name") for p in operation.get("parameters", []) if p.get("in") == "query"}
            if "{" in path or query & {"cursor", "page"}:
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
            # Errors a view declares itself (409, 415, …) leave in the same shape.
            for code, response in responses.items():
                if code[0] in "45" and not response.get("content"):
                    response["content"] = {"application/json": {"schema": ref}}
    return result


def _throttled_operations(generator) -> set[tuple[str, str]]:
    """(path, method) of the operations a throttle of their view may refuse with 429."""
    operations = set()
    for path, _regex, method, callback in generator.endpoints or []:
        view_class = getattr(callback, "cls", None)
        # As the schema's paths: {pk} becomes {id} (SCHEMA_COERCE_PATH_PK).
        path = generator.coerce_path(path, method, view_class)
        for throttle in getattr(view_class, "throttle_classes", []):
            documents = getattr(throttle, "documents_429", None)
            if documents is None or documents(method):
                operations.add((path, method.lower()))
    return operations


# Django's form fields refuse NUL characters; empty values are refused by our FilterSet.
NO_NUL = "^[^\\x00]*$"
# DRF's CharField strips a value before refusing it blank: at least one other character.
NOT_BLANK = "^[^\\x00]*[^\\s\\x00][^\\x00]*$"


def _constrain_body_strings(component) -> None:
    for schema in component.get("properties", {}).values():
        for target in (schema, schema.get("items", {})):
            if target.get("type") == "string" and not {"enum", "format", "pattern"} & set(target):
                target["pattern"] = NOT_BLANK if target.get("minLength", 0) >= 1 else NO_NUL


def _constrain_query_strings(operation) -> None:
    """Say in the schema what query strings may not be: empty (veritas.api.filters.FilterSet),
    or contain NUL characters (Django's forms refuse them)."""
    for parameter in operation.get("parameters", []):
        if parameter.get("in") != "query":
            continue
        schema = parameter.get("schema", {})
        for target in (schema, schema.get("items", {})):
            if target.get("type") == "string" and "enum" not in target and "format" not in target:
                target.setdefault("minLength", 1)
                target.setdefault("pattern", NO_NUL)
