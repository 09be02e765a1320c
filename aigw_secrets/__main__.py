from aigw_secrets.entry import main

raise SystemExit(main())
