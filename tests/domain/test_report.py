from datetime import datetime, timezone

from opsconsole.domain.report import find_done_waiting, find_urls, md_escape, parse_wall_clock, short_description


def test_wall_clock_times_become_utc():
    assert parse_wall_clock("2023-10-05 07:40:00.078250-04:00") == datetime(2023, 10, 5, 11, 40, 0, 78250,
                                                                            tzinfo=timezone.utc)
    assert parse_wall_clock("2023-10-05T07:40:00.123456789Z").microsecond == 123456
    assert parse_wall_clock("2023-10-05 07:40:00").tzinfo is timezone.utc
    line = "2026-11-29T22:51:38Z INFO task.stdout # wall_clock_time=2023-10-05 07:40:00.078250-04:00: done waiting"
    assert find_done_waiting(line) == datetime(2023, 10, 5, 11, 40, 0, 78250, tzinfo=timezone.utc)
    assert find_done_waiting("# wall_clock_time=2023-10-05 07:39:58-04:00: waiting for the next bar") is None
    assert find_done_waiting("# wall_clock_time=2023-13-45 07:40:00: done waiting") is None


def test_urls_description_and_escaping():
    assert find_urls("see https://a.example/x.html, and (http://b.example/y).") == [
        "https://a.example/x.html", "http://b.example/y"]
    assert short_description({"b": [1, 2], "a": "x", "empty": ""}) == "a=x, b=1 2"
    assert len(short_description({"k": "v" * 1000})) == 400
    assert md_escape("[x](javascript:1) <b> \x1b[31m") == "\\[x\\](javascript:1) \\<b\\> \\x1b\\[31m"
