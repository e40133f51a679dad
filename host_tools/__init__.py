"""Host-side tools for yikatong terminals: the `ykt` command."""
