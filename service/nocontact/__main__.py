from nocontact.cli import main

raise SystemExit(main())
