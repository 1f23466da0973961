"""The project's aiohttp web service (shop chat page, health, later admin and agent console)."""
