"""Settings: their declaration (the platform's and an app's), kinds, layers and the README table."""

from carolbatch.settings.declaration import (
    NO_DEFAULT,
    Setting,
    Settings,
    SettingsDeclaration,
    SettingsError,
    declare_settings,
)
from carolbatch.settings.platform import PLATFORM_SETTINGS

__all__ = ["NO_DEFAULT", "PLATFORM_SETTINGS", "Setting", "Settings", "SettingsDeclaration", "SettingsError",
           "declare_settings"]
