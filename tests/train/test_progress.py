"""Reading a run's learning curve: the first time its rolling success reached a target."""

from __future__ import annotations

from motorgym.train.progress import first_reaching, read_metrics


def test_first_reaching_is_the_first_row_at_or_above_the_target(tmp_path) -> None:
    (tmp_path / "metrics.csv").write_text(
        "update,global_step,time_s,episode_success\n"
        "1,4096,1.5,\n"  # no episode had ended: NaN, never a hit
        "2,8192,3.0,0.5\n"
        "3,12288,4.5,0.95\n"
        "4,16384,6.0,0.9\n"
        "5,20480,7.5,1.0\n"
    )
    rows = read_metrics(tmp_path)
    hit = first_reaching(rows, 0.95)
    assert hit is not None and (hit["time_s"], hit["global_step"]) == (4.5, 12288)
    assert first_reaching(rows, 0.0)["update"] == 2
    assert first_reaching(rows, 1.01) is None
