from opendata.cli import main
import sys
sys.exit(main())
