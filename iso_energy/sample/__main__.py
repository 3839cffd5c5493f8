from iso_energy.sample import main

raise SystemExit(main())
