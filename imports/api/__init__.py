"""The HTTP API (SPEC 6): User Profile Bulk Import v3 (pre-signed upload) and v2 (direct), token
auth, per-token rate limits and the OpenAPI document. docs/api.md is the user-facing description."""
