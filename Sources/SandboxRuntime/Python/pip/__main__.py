import sys
import pip
sys.exit(pip.main())
