"""Who may call the API: hashed API keys with roles (read < write < admin)."""

from shopmind.security.keys import ROLES, KeyRecord, KeyStore, role_allows

__all__ = ["ROLES", "KeyRecord", "KeyStore", "role_allows"]
