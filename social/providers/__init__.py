"""One client and one webhook parser per provider; base URLs come from settings so tests use fakes."""
