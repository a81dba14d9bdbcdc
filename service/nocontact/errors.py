"""The error tree. Each package raises its own subclass; boundaries wrap with ``raise … from e``.

NoContactError
├── ConfigError        bad or missing configuration (exit code 2; names the file and key)
├── UsageError         bad command-line usage or state (exit code 2)
├── VaultError         sealing, opening or storing evidence failed
│   └── WrongPassphrase
├── LedgerError        the hash chain does not verify
└── ChannelError       a channel (IMAP, SMTP, SMS) failed; ``permanent`` says if a retry can help
"""


class NoContactError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(NoContactError):
    def __init__(self, file: str, key: str, problem: str) -> None:
        super().__init__(f"{file}: {key}: {problem}")
        self.file = file
        self.key = key
        self.problem = problem


class UsageError(NoContactError):
    pass


class VaultError(NoContactError):
    pass


class WrongPassphrase(VaultError):
    def __init__(self) -> None:
        super().__init__("the passphrase does not open this vault")


class LedgerError(NoContactError):
    pass


class ChannelError(NoContactError):
    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
