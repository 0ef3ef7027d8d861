"""The console's pages, one module per area; importing this package declares every route."""
from console.pages import (  # noqa: F401
    audit,
    auth,
    campaign_coupons,
    campaign_info,
    campaign_triggers,
    campaign_uploads,
    campaigns,
    home,
    messages,
    review,
)
