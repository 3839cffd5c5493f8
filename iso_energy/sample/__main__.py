from iso_energy.sample import main
from memsafe.cli import run_cli

raise SystemExit(run_cli(main))
