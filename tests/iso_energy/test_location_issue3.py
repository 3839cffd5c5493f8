"""The iso_energy code location after issue 3: every operator in the LMP grids, the AS asset
over the operators publishing it, the catalog, the sensor and the jobs, in the conversion pool."""

from __future__ import annotations

import dagster as dg

from iso_energy.definitions import defs
from iso_energy.resources import POOL, CatalogDuckDBResource

SEVEN = ["pjm", "caiso", "ercot", "miso", "nyiso", "isone", "spp"]


def asset_def(name: str) -> dg.AssetsDefinition:
    return defs.resolve_assets_def(dg.AssetKey(name))


def test_assets_partitions_and_pools():
    assert {k.to_user_string() for k in defs.resolve_all_asset_keys()} == {
        "lmp_da",
        "lmp_rt",
        "as_prices",
        "price_catalog",
    }
    for name, isos in (("lmp_da", SEVEN), ("lmp_rt", SEVEN), ("as_prices", ["pjm", "caiso", "ercot"])):
        a = asset_def(name)
        dims = {d.name: d.partitions_def for d in a.partitions_def.partitions_defs}
        assert dims["iso"].get_partition_keys() == isos
        assert "2024" in dims["year"].get_partition_keys()
        assert a.op.pool == POOL
    catalog = asset_def("price_catalog")
    assert catalog.partitions_def is None
    assert {d.asset_key.to_user_string() for d in catalog.specs_by_key[dg.AssetKey("price_catalog")].deps} == {
        "lmp_da",
        "lmp_rt",
        "as_prices",
    }


def test_jobs_sensor_and_catalog_resource():
    assert {j.name for j in defs.resolve_all_job_defs()} >= {"lmp_job", "as_job"}
    sensor = defs.resolve_sensor_def("raw_files_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert {t.job_name for t in sensor.targets} == {"lmp_job", "as_job"}
    assert isinstance(defs.resources["catalog_db"], CatalogDuckDBResource)
