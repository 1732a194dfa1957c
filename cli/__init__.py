"""The ``moccasin`` command line (installed as the package ``moccasin_cli``)."""
