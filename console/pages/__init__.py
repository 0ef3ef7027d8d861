"""The console's pages, one module per area; importing this package declares every route."""
from console.pages import campaign_uploads, home  # noqa: F401
