"""The console's pages, one module per area; importing this package declares every route."""
from console.pages import audit, auth, campaign_info, campaign_uploads, campaigns, home  # noqa: F401
