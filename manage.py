#!/usr/bin/env python
"""Shortcut for developers: the same as the `safeward` command."""

from safeward.cli import main

if __name__ == "__main__":
    main()
