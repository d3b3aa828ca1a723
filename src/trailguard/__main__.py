from trailguard.cli import main

raise SystemExit(main())
