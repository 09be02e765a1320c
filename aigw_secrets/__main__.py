from aigw_secrets.cli import main

raise SystemExit(main())
