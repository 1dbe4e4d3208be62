import sys

from opendata.freshness.cli import main

sys.exit(main())
