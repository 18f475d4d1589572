"""API conventions shared by every app: authentication, errors, pagination, routing."""
