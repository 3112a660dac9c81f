from jaxnas.cli import main

raise SystemExit(main())
