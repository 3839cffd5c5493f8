"""Issue 15's seed sizes: selected only on request, peers that cannot fit skipped with a reason,
and the seed verdict. Nothing is generated or run (the tools' command lines are only built)."""

from __future__ import annotations

import sys

import pytest

from bench.cases import Context, Inputs, seed_verdict, select_sizes
from bench.cases.csv_parquet import CsvToParquet
from bench.cases.pod_usage import PodUsage
from bench.cases.probe_grouping import ProbeGrouping
from bench.cases.tabular_split import TabularSplit
from bench.harness import Result, Spread, Tool, measure
from bench.report import case_markdown

RAM_MB = 23.5 * 1024  # the benchmark machine's RAM (RESULTS.md)
CASES = [CsvToParquet(), ProbeGrouping(), TabularSplit(), PodUsage()]


def _labels(case, requested, scale=1.0):
    return [s.label for s in select_sizes(case, scale, requested)]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.key)
@pytest.mark.parametrize("requested", [None, [], ["1x", "sorted", "3,000,000 rows", "10,000,000 items"]])
def test_seed_sizes_are_not_selected_unless_asked_for(case, requested):
    assert not any(label.startswith("seed") for label in _labels(case, requested))
    assert _labels(case, None) == [s.label for s in case.sizes(1.0)]


@pytest.mark.parametrize(
    "case,expected",
    [
        (CsvToParquet(), {"seed": {"nodes": 11_000}}),
        (
            ProbeGrouping(),
            {
                "seed sorted": {"measurements": 200_000_000, "order": "sorted", "shards": 80},
                "seed shuffled": {"measurements": 200_000_000, "order": "shuffled", "shards": 80},
            },
        ),
        (
            TabularSplit(),
            {
                "seed 1x 3M x 200": {"rows": 3_000_000, "cols": 200, "shards": 40},
                "seed 3M x 831": {"rows": 3_000_000, "cols": 831, "shards": 40},
                "seed 30M x 200": {"rows": 30_000_000, "cols": 200, "shards": 400},
            },
        ),
        (PodUsage(), {"seed 100,000,000 items": {"rows": 100_000_000, "files": 100}}),
    ],
    ids=lambda x: getattr(x, "key", ""),
)
@pytest.mark.parametrize("scale", [0.002, 1.0])  # the seed sizes do not follow --scale
def test_seed_selects_exactly_the_seed_sizes_whatever_the_scale(case, expected, scale):
    sizes = select_sizes(case, scale, ["seed"])
    assert {s.label: s.params for s in sizes} == expected


def test_a_seed_label_selects_one_seed_size_and_labels_mix_with_1x():
    probe = ProbeGrouping()
    assert _labels(probe, ["seed shuffled"]) == ["seed shuffled"]
    # "sorted" is the 1x label only, not a prefix of "seed sorted"
    assert _labels(probe, ["sorted", "seed sorted"]) == ["sorted", "seed sorted"]


def _tools(case, label, tmp_path, rows):
    [size] = [s for s in case.sizes(1.0) + case.seed_sizes() if s.label == label]
    ctx = Context(work=tmp_path, env={}, ram_mb=RAM_MB, python=sys.executable)
    return {t.name: t for t in case.tools(size, Inputs(path=tmp_path / "in", mb=1.0, rows=rows), ctx)}


def _flag(tool: Tool, flag: str) -> str:
    return tool.argv[tool.argv.index(flag) + 1]


def test_probe_grouping_skips_polars_at_seed_size_and_adds_duckdb_at_8_gb(tmp_path):
    seed = _tools(ProbeGrouping(), "seed shuffled", tmp_path, 200_000_000)
    assert list(seed) == ["probe_rows", "duckdb_1024mb", "duckdb_8192mb", "polars"]
    assert seed["polars"].skip.startswith("polars would need about 24 GB (2.5 GB measured at 20M")
    assert "more than this machine's 24 GiB" in seed["polars"].skip
    assert _flag(seed["duckdb_8192mb"], "--memory-limit") == "8192MB"
    assert _flag(seed["probe_rows"], "--memory-mb") == "1024"
    assert not any(seed[t].skip for t in ("probe_rows", "duckdb_1024mb", "duckdb_8192mb"))
    one_x = _tools(ProbeGrouping(), "shuffled", tmp_path, 20_000_000)
    assert list(one_x) == ["probe_rows", "duckdb_1024mb", "polars"]  # no 8 GB DuckDB at 1x
    assert not any(t.skip for t in one_x.values())


def test_tabular_split_skips_the_unbounded_peers_and_the_random_mode_at_seed_size(tmp_path):
    for label, rows in (("seed 3M x 831", 3_000_000), ("seed 30M x 200", 30_000_000)):
        seed = _tools(TabularSplit(), label, tmp_path, rows)
        assert "would need about" in seed["duckdb_unlimited"].skip
        assert "would need about" in seed["pandas_all"].skip
        assert seed["tabular_random"].skip == "random split not asked for at seed size"
        for name in ("tabular", "tabular_temporal", "duckdb_2gb"):
            assert seed[name].skip is None, name
        assert _flag(seed["tabular"], "--memory-mb") == _flag(seed["tabular_temporal"], "--memory-mb") == "2048"
        assert _flag(seed["duckdb_2gb"], "--memory-limit") == "2GB"
    # 3M x 831: DuckDB ~3.5 GB per 1M rows x 200 columns -> ~43 GB
    assert "about 43 GB" in _tools(TabularSplit(), "seed 3M x 831", tmp_path, 3_000_000)["duckdb_unlimited"].skip
    for label, rows in (("3,000,000 rows", 3_000_000), ("6,000,000 rows", 6_000_000)):  # 1x: all run
        one_x = _tools(TabularSplit(), label, tmp_path, rows)
        assert not any(t.skip for t in one_x.values()), label
        assert {_flag(one_x[m], "--memory-mb") for m in ("tabular", "tabular_random", "tabular_temporal")} == {"1024"}
    # The 1x input at the seed budget: the peers fit and run, the project at 2048 MB.
    base = _tools(TabularSplit(), "seed 1x 3M x 200", tmp_path, 3_000_000)
    assert [n for n, t in base.items() if t.skip] == ["tabular_random"]
    assert _flag(base["tabular"], "--memory-mb") == "2048"


def test_tabular_seed_peak_is_held_to_the_1x_peak_at_the_seed_budget():
    runs = [
        _result("tabular", "project", 20, 30, 1500, size="seed 1x 3M x 200"),
        _result("tabular_temporal", "project", 20, 30, 1400, size="seed 1x 3M x 200"),
        _result("duckdb_unlimited", "baseline", 25, 35, 10_000, size="seed 1x 3M x 200"),
        _result("tabular", "project", 200, 300, 1600, size="seed 30M x 200"),
        _result("tabular_temporal", "project", 200, 300, 1600, size="seed 30M x 200"),
        _result("duckdb_2gb", "baseline", size="seed 30M x 200", error="out of memory"),
    ]
    verdicts = {v.size: v for v in TabularSplit().verdicts(runs)}
    base = verdicts["seed 1x 3M x 200, stratified"]
    assert base.met is True and "the 1x peak" not in base.detail  # judged on the budget and its peers only
    assert verdicts["seed 30M x 200, stratified"].met is None  # 1600 <= 1.1 x 1500, no peer finished
    temporal = verdicts["seed 30M x 200, temporal"]
    assert temporal.met is False and "1.14x the 1x peak (1400 MB" in temporal.detail  # 1600 > 1.1 x 1400


def test_pod_usage_skips_pandas_at_seed_size_only(tmp_path):
    seed = _tools(PodUsage(), "seed 100,000,000 items", tmp_path, 100_000_000)
    assert seed["pandas_in_memory"].skip.startswith("pandas would need about 33 GB")
    assert seed["pod_usage"].skip is None and _flag(seed["pod_usage"], "--memory-mb") == "1024"
    assert not any(t.skip for t in _tools(PodUsage(), "10,000,000 items", tmp_path, 10_000_000).values())


def test_csv_parquet_skips_the_read_all_baselines_at_seed_size_only(tmp_path):
    [seed] = CsvToParquet().seed_sizes()
    ctx = Context(work=tmp_path, env={}, ram_mb=RAM_MB, python=sys.executable)
    tools = {t.name: t for t in CsvToParquet().tools(seed, Inputs(tmp_path / "in", mb=10_658, rows=96_624_366), ctx)}
    assert tools["pandas_all"].skip.startswith("pandas_all would need about 31 GB")
    assert tools["polars_same_job"].skip.startswith("polars_same_job would need about 34 GB")
    assert not any(tools[t].skip for t in ("converter", "polars", "duckdb", "pyarrow", "pandas_chunked"))
    [four_x] = [s for s in CsvToParquet().sizes(1.0) if s.label == "4x"]  # ~3.8 GB of CSV at --scale 1
    tools = CsvToParquet().tools(four_x, Inputs(tmp_path / "in", mb=3_792, rows=35_000_000), ctx)
    assert not any(t.skip for t in tools)


def test_a_skipped_tool_is_never_started_and_is_reported_not_run(tmp_path):
    never = Tool("polars", [sys.executable, "-c", "raise SystemExit('must not run')"], skip="too big")
    [res] = measure(
        "probe_grouping",
        "seed sorted",
        [never],
        input_mb=1.0,
        input_rows=10,
        reps=1,
        warmup=1,
        cwd=tmp_path,
        env={},
        log_root=tmp_path / "logs",
        timeout_s=5,
        progress=lambda m: None,
    )
    assert res.skipped == "too big" and res.error is None and res.reps == 0 and not res.ok
    assert not (tmp_path / "logs").exists()
    assert Result.from_dict(res.as_dict()).skipped == "too big"  # survives the JSON file (merge)
    assert "| seed sorted (1 MB) | polars | not run: too big |" in case_markdown("t", "t", [res], [])


def _result(tool, role, wall=None, cpu=None, peak=None, *, size="seed sorted", rows=200_000_000, **kw):
    def spread(x):
        return None if x is None else Spread(x, x, x)

    return Result(
        case="probe_grouping",
        size=size,
        tool=tool,
        role=role,
        input_mb=1.0,
        input_rows=rows,
        reps=1 if wall else 0,
        wall_s=spread(wall),
        cpu_s=spread(cpu),
        peak_rss_mb=spread(peak),
        **kw,
    )


SKIPPED_POLARS = _result("polars", "baseline", skipped="polars would need about 24 GB")
FAILED_DUCK = _result("duckdb_1024mb", "baseline", error="exit 1: out of memory")


@pytest.mark.parametrize(
    "project,peers,base_peak,met,ratios,reference,words",
    [
        # beats both finishing peers (DuckDB 8 GB fastest by wall, DuckDB 1 GB least CPU), within budget
        (
            _result("probe_rows", "project", 100, 90, 900),
            [_result("duckdb_1024mb", "baseline", 150, 95, 1000), _result("duckdb_8192mb", "baseline", 120, 180, 8000)],
            None,
            True,
            (1.2, 95 / 90),
            "duckdb_8192mb (wall), duckdb_1024mb (CPU)",
            ["target >= 1.0x the best finishing peer"],
        ),
        # slower than the best peer by CPU: missed though faster by wall
        (
            _result("probe_rows", "project", 100, 90, 900),
            [_result("duckdb_8192mb", "baseline", 120, 80, 8000), SKIPPED_POLARS],
            None,
            False,
            (1.2, 80 / 90),
            "duckdb_8192mb",
            ["polars not run"],
        ),
        # over the 1024 MB budget: missed whatever the speed
        (
            _result("probe_rows", "project", 100, 90, 1100),
            [_result("duckdb_8192mb", "baseline", 200, 200, 8000)],
            None,
            False,
            (2.0, 200 / 90),
            "duckdb_8192mb",
            ["vs budget 1024 MB"],
        ),
        # within the budget but 1.2x the 1x peak (target 1.1x): missed
        (
            _result("probe_rows", "project", 100, 90, 960),
            [_result("duckdb_8192mb", "baseline", 200, 200, 8000)],
            800,
            False,
            (2.0, 200 / 90),
            "duckdb_8192mb",
            ["1.20x the 1x peak (800 MB; target <= 1.1x)"],
        ),
        # no peer finished: memory met, speed not judged (met None), said so
        (
            _result("probe_rows", "project", 100, 90, 850),
            [FAILED_DUCK, SKIPPED_POLARS],
            800,
            None,
            (None, None),
            "none finished",
            ["no peer finished (duckdb_1024mb failed, polars not run): speed not judged", "1.06x the 1x peak"],
        ),
        # no peer finished and memory missed: missed
        (
            _result("probe_rows", "project", 100, 90, 1200),
            [FAILED_DUCK],
            None,
            False,
            (None, None),
            "none finished",
            ["no peer finished"],
        ),
        # the project itself failed: not judged, its error shown
        (
            _result("probe_rows", "project", error="exit 1: boom"),
            [_result("duckdb_8192mb", "baseline", 200, 200, 8000)],
            None,
            None,
            (None, None),
            "best peer",
            ["exit 1: boom"],
        ),
    ],
    ids=["beats-best", "slower-cpu", "over-budget", "not-flat", "no-peer", "no-peer-over-budget", "project-failed"],
)
def test_seed_verdict(project, peers, base_peak, met, ratios, reference, words):
    v = seed_verdict("seed sorted", project, peers, 1024, base_peak, 1.1)
    assert v.met is met
    assert (v.ratio, v.cpu_ratio) == pytest.approx(ratios)
    assert v.reference == reference
    for w in words:
        assert w in v.detail


def test_probe_grouping_judges_seed_against_the_1x_peak_of_the_same_run():
    results = [
        _result("probe_rows", "project", 10, 9, 800, size="sorted", rows=20_000_000),
        _result("polars", "baseline", 20, 12, 2400, size="sorted", rows=20_000_000),
        _result("probe_rows", "project", 100, 90, 900),
        FAILED_DUCK,
        _result("duckdb_8192mb", "baseline", 300, 250, 8000),
        SKIPPED_POLARS,
    ]
    one_x, seed = ProbeGrouping().verdicts(results)
    assert (one_x.size, one_x.reference, one_x.met) == ("sorted", "polars", True)
    assert seed.size == "seed sorted" and seed.reference == "duckdb_8192mb"
    assert seed.met is False and "1.12x the 1x peak (800 MB" in seed.detail  # 900 > 1.1 x 800
    # without a 1x result at 20M (e.g. --scale 0.1), only the budget applies
    small = [_result("probe_rows", "project", 1, 1, 300, size="sorted", rows=2_000_000), *results[2:]]
    assert ProbeGrouping().verdicts(small)[1].met is True


def test_tabular_and_pod_usage_judge_seed_on_their_budgets():
    tab = [
        _result("tabular", "project", 100, 90, 1900, size="seed 30M x 200"),
        _result("tabular_random", "project", size="seed 30M x 200", skipped="random split not asked for at seed size"),
        _result("duckdb_unlimited", "baseline", size="seed 30M x 200", skipped="too big"),
        _result("duckdb_2gb", "baseline", size="seed 30M x 200", error="out of memory"),
    ]
    stratified, random = TabularSplit().verdicts(tab)
    assert stratified.size == "seed 30M x 200, stratified" and stratified.met is None  # 1900 <= 2048, no peer
    assert "vs budget 2048 MB" in stratified.detail and "no peer finished" in stratified.detail
    assert random.met is None and random.detail == "random split not asked for at seed size"
    pod = [
        _result("pod_usage", "project", 100, 90, 1000, size="seed 100,000,000 items"),
        _result("pandas_in_memory", "baseline", size="seed 100,000,000 items", skipped="too big"),
    ]
    [v] = PodUsage().verdicts(pod)
    assert v.met is None and "vs budget 1024 MB" in v.detail and "pandas_in_memory not run" in v.detail


def test_pod_usage_seed_peak_is_held_to_its_full_size_peak():
    # With the 1x sizes in the same run, the seed peak must stay within 1.1x of the full size's.
    runs = [
        _result("pod_usage", "project", 5, 5, 700, size="5,000,000 items"),
        _result("pod_usage", "project", 9, 9, 800, size="10,000,000 items"),
        _result("pod_usage", "project", 100, 90, 900, size="seed 100,000,000 items"),
        _result("pandas_in_memory", "baseline", size="seed 100,000,000 items", skipped="too big"),
    ]
    seed = PodUsage().verdicts(runs)[-1]
    assert seed.met is False and "1.12x the 1x peak (800 MB" in seed.detail
    runs[2] = _result("pod_usage", "project", 100, 90, 850, size="seed 100,000,000 items")
    assert PodUsage().verdicts(runs)[-1].met is None  # within 1.1x and the budget; no peer to judge speed
