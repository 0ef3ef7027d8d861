"""The sandbox chat page: a browser stand-in for the LINE app (page, JSON API, demo campaign)."""
