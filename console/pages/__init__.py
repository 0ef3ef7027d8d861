"""The console's pages, one module per area; importing this package declares every route."""
from console.pages import home  # noqa: F401
from console.pages import campaigns  # noqa: F401
