"""Run logs: CSV round trip, and the several-runs plot used to compare model variants."""

import pytest

from maskvat.config_checks import from_checked_dict
from maskvat.errors import MaskvatError
from maskvat.train.runlog import plot_runs, read_log, write_log


def test_log_round_trip_keeps_numbers_and_sparse_columns(tmp_path):
    log = [{"step": 1, "ce": 6.5}, {"step": 2, "ce": 6.25, "val_acc": 0.125}]
    write_log(tmp_path / "log.csv", log)
    back = read_log(tmp_path / "log.csv")
    assert back == log  # the missing val_acc of step 1 stays missing, not 0 or ""
    assert isinstance(back[0]["step"], int)


def test_plot_runs_draws_each_run(tmp_path):
    a = [{"step": s, "ce": 7 - s / 10, **({"val_acc": s / 100} if s % 10 == 0 else {})} for s in range(1, 41)]
    b = [{**r, "ce": r["ce"] + 1} for r in a]
    plot_runs({"A": a, "B": b}, tmp_path / "v.png", loss_key="ce", series_key="val_acc", loss_label="ce",
              series_label="acc")
    assert (tmp_path / "v.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_from_checked_dict_names_unknown_keys():
    from maskvat.train.scav import SCAVTrainConfig

    assert from_checked_dict(SCAVTrainConfig, {"steps": 3}, "x").steps == 3
    with pytest.raises(MaskvatError, match="unknown SCAV option.*: bogus, other"):
        from_checked_dict(SCAVTrainConfig, {"steps": 3, "other": 1, "bogus": 2}, "SCAV option")
