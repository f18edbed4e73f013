"""The one exception type users see: a message that names the thing and the fix."""


class AtlasodError(Exception):
    """An error caused by input or configuration, reported without a traceback."""


class FitFailedError(AtlasodError):
    """The data cannot be fitted (an empty or flat histogram): the fit step records this
    in its result instead of failing, so that the plots and yields still appear."""


def one_line(exc: BaseException) -> str:
    """``exc`` as one line, its type first: for messages that quote a library's error."""
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"
