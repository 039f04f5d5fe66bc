"""One-line errors for bad input: the entry points print them without a traceback."""


class JaxganError(Exception):
  """An error the user can fix; its message is one line naming the file or option."""


class InputError(JaxganError):
  """A dataset, folder or image that is missing, empty, corrupt or of the wrong shape."""


class ConfigError(JaxganError):
  """An unknown model, option or option value."""


class WeightsError(JaxganError):
  """Weights that are missing or do not fit the network."""


class OutputError(JaxganError):
  """An output that cannot be written: a full disk, a read-only folder."""


class DivergedError(JaxganError):
  """A training step whose losses or parameters are not finite: the run stopped before it."""
