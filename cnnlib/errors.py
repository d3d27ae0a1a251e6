"""Named errors raised by cnnlib. Each message says what was looked for, where, and how to fix it."""


class CnnlibError(Exception):
    """Base class of every error cnnlib raises on purpose."""


class DatasetNotFoundError(CnnlibError, FileNotFoundError):
    """A dataset is not in any of the places searched and could not be downloaded."""


class DatasetFormatError(CnnlibError, ValueError):
    """A dataset file or folder exists but has the wrong layout, keys, shapes or dtypes."""


class DatasetCorruptError(CnnlibError, ValueError):
    """A dataset file exists but cannot be read (truncated, not the format its name says)."""


class ChecksumMismatchError(CnnlibError, ValueError):
    """A file's checksum differs from the one recorded in cnnlib's manifest."""


class DownloadError(CnnlibError, OSError):
    """A download failed (server down, connection dropped, HTTP error)."""


class ImageFolderError(CnnlibError, ValueError):
    """A folder-per-class image tree has the wrong layout (flat, empty class, one class)."""


class ProfileError(CnnlibError, ValueError):
    """An unknown run profile was asked for."""
