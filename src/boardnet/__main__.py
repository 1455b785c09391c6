import sys

from boardnet.cli import main

sys.exit(main())
