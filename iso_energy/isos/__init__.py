"""The operator registry: every converter the asset factory and the contract test iterate over.

Adding an operator = one module declaring an :class:`~iso_energy.isos.base.IsoConverter`
subclass + one line here.
"""

from __future__ import annotations

from iso_energy.isos.base import IsoConverter
from iso_energy.isos.caiso import CAISO
from iso_energy.isos.ercot import ERCOT
from iso_energy.isos.isone import ISONE
from iso_energy.isos.miso import MISO
from iso_energy.isos.nyiso import NYISO
from iso_energy.isos.pjm import PJM
from iso_energy.isos.spp import SPP

ISOS: dict[str, IsoConverter] = {c.iso_id: c() for c in (PJM, CAISO, ERCOT, MISO, NYISO, ISONE, SPP)}


def isos_with(dataset: str) -> list[str]:
    """Operator ids publishing ``dataset``, in registry order."""
    return [iso for iso, conv in ISOS.items() if dataset in conv.datasets]
