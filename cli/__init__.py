"""The command-line front end of Moccasin (installed as ``moccasin_cli``)."""
