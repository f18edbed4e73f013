"""The one exception type users see: a message that names the thing and the fix."""


class AtlasodError(Exception):
    """An error caused by input or configuration, reported without a traceback."""
