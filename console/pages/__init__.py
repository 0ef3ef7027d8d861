"""The console's pages, one module per area; importing this package declares every route."""
from console.pages import audit, auth, home  # noqa: F401
