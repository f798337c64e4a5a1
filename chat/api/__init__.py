"""The public REST API under /api/v1/ (docs/api.md): token-authenticated views over the same services as the desk."""
