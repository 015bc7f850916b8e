"""`python3 -m rmapshim`: the same CLI as bin/rmapshim."""
import sys

from .cli import main

sys.exit(main())
