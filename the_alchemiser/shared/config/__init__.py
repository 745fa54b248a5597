from the_alchemiser.shared.config.settings import Settings, get_settings

__all__ = ["Settings", "get_settings"]
