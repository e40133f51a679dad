"""`ykt fare quote`: station staff's answer, from the firmware fare engine."""

import farekit
import pytest

from host_tools import cli
from host_tools.lib import tariff as ht


def quote(capsys, *args):
    rc = cli.main(["fare", "quote"] + list(args))
    out = capsys.readouterr()
    return rc, out.out, out.err


def _host_fare(a, b):
    """Expected fare from the host compiler's own distance table and rule."""
    m = ht.validate(farekit.source())
    dam = m.dam[m.index[a]][m.index[b]]
    return dam, ht.distance_fare(m, dam)


def test_quote_by_name_prints_fen_yuan_and_path_distance(capsys):
    rc, out, _ = quote(capsys, "--from", "People's Square", "--to", "Xinzhuang",
                       "--at", "2026-11-30T08:00")
    dam, fen = _host_fare(2035, 2011)
    assert rc == 0
    assert "People's Square (2035) -> Xinzhuang (2011): %d.%02d km" % (dam // 100, dam % 100) \
        in out
    assert "fare: %d fen (%d.%02d yuan)" % (fen, fen // 100, fen % 100) in out


def test_station_names_are_case_insensitive(capsys):
    rc, out, _ = quote(capsys, "--from", "PEOPLE'S SQUARE", "--to", "xinzhuang",
                       "--at", "2026-11-30T08:00")
    assert rc == 0
    assert "fare: 500 fen (5.00 yuan)" in out


def test_stations_by_id(capsys):
    rc, out, _ = quote(capsys, "--from", "2035", "--to", "247", "--at", "2026-11-30T08:00")
    assert rc == 0
    assert "People's Square (2035) -> Lujiazui (247)" in out
    assert "fare: 300 fen (3.00 yuan)" in out


def test_unknown_station_gives_one_line_with_close_matches(capsys):
    rc, out, err = quote(capsys, "--from", "Peoples Squar", "--to", "Xinzhuang")
    assert rc == 2
    assert out == ""
    assert err == "ykt: error: unknown station 'Peoples Squar'; did you mean: People's Square?\n"


def test_category_by_name_applies_its_rule_at_the_given_time(capsys):
    rc, out, _ = quote(capsys, "--from", "People's Square", "--to", "Xinzhuang",
                       "--category", "senior", "--at", "2026-11-30T10:00")
    assert rc == 0
    assert "rider category senior" in out
    assert "fare: 0 fen (0.00 yuan)" in out


def test_category_outside_its_window_pays_full(capsys):
    rc, out, _ = quote(capsys, "--from", "People's Square", "--to", "Xinzhuang",
                       "--category", "1", "--at", "2026-11-30T08:00")
    assert "fare: 500 fen (5.00 yuan)" in out


def test_unknown_category_lists_the_known_ones(capsys):
    rc, _, err = quote(capsys, "--from", "2035", "--to", "247", "--category", "pilot")
    assert rc == 2
    assert "unknown category 'pilot'; the tariff has: ordinary (0), senior (1)" in err


def test_line_5_trip_shows_the_line_exception(capsys):
    rc, out, _ = quote(capsys, "--from", "Xinzhuang", "--to", "Jianchuan Road",
                       "--at", "2026-11-30T08:00")
    assert "line exception                   4.00 -> 3.00" in out
    assert "fare: 300 fen (3.00 yuan)" in out


def test_quote_from_a_built_tariff_file_names_its_version(tmp_path, capsys):
    path = tmp_path / "tariff.bin"
    path.write_bytes(farekit.payload(version=17))
    rc, out, _ = quote(capsys, "--from", "2035", "--to", "2011", "--tariff", str(path),
                       "--at", "2026-11-30T08:00")
    assert rc == 0
    assert "tariff v17 from %s" % path in out


def test_refused_issuer_exits_1(capsys):
    rc, out, _ = quote(capsys, "--from", "2035", "--to", "2011", "--issuer", "7777",
                       "--at", "2026-11-30T08:00")
    assert rc == 1
    assert out == "refused: issuer 7777 refused\n"


@pytest.mark.parametrize("at", ["30/11/2026", "2026-11-30 08:00", "1999-12-31T23:00"])
def test_bad_time_is_one_line(capsys, at):
    rc, _, err = quote(capsys, "--from", "2035", "--to", "2011", "--at", at)
    assert rc == 2
    assert err.startswith("ykt: error: --at") and err.count("\n") == 1


def test_not_a_tariff_file_is_one_line(tmp_path, capsys):
    path = tmp_path / "x.bin"
    path.write_bytes(b"hello")
    rc, _, err = quote(capsys, "--from", "2035", "--to", "2011", "--tariff", str(path))
    assert rc == 2
    assert err.count("\n") == 1 and "x.bin" in err
