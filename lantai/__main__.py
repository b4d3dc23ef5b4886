"""``python -m lantai``: the same as the ``lantai`` command."""

from lantai.cli import main

raise SystemExit(main())
