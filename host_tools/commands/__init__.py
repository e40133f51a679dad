"""`ykt` subcommands: each module here defines ``register(subparsers)``.

``register`` adds one top-level subcommand whose handler (``set_defaults(fn=...)``)
takes the parsed args and returns an exit code. Handlers raise ``ValueError``,
``RuntimeError`` or ``OSError`` with a one-line message for bad input; the CLI
prints it as ``ykt: error: ...`` and exits 2.
"""
