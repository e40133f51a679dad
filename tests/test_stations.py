"""`ykt stations [SEARCH]`: the tariff's stations by name ignoring case, spaces and
apostrophes (host_tools.lib.stations), never a bus route taken for a station."""

import json

import pytest

from host_tools import cli
from host_tools.lib import stations
from host_tools.lib.errors import BadInput
from host_tools.lib.tariff_source import DEFAULT_OUT


@pytest.fixture(scope="module")
def net():
    return stations.from_source(DEFAULT_OUT)


def _run(capsys, *argv):
    code = cli.main(["stations"] + list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("typed", ["People's Square", "People Square", "peoples square",
                                   "PEOPLE'S SQUARE", "People\u2019s  Square", "2035"])
def test_a_station_is_found_however_its_name_is_typed(net, typed):
    assert stations.find_station(net, typed) == (2035, "People's Square", ("1", "2", "8"))


def test_no_two_stations_fold_to_one_name(net):
    folded = [stations.fold(s.name) for s in net.stations]
    assert len(folded) == len(set(folded)) == 302


def test_a_route_is_refused_even_where_a_station_has_its_number(net):
    with pytest.raises(BadInput, match="is both metro station 926 Jiuting and bus route 926"):
        stations.find_station(net, "926")
    with pytest.raises(BadInput, match="is bus route 1 "):
        stations.find_station(net, "1")
    assert stations.find_station(net, "station:926").name == "Jiuting"


def test_the_payload_names_the_same_stations(net):
    from host_tools.lib import tariff

    compiled = stations.from_payload(tariff.build(DEFAULT_OUT, 1))
    assert sorted(compiled.stations) == sorted(net.stations)
    assert compiled.routes == net.routes


def test_ykt_stations_lists_every_station(capsys):
    code, out, err = _run(capsys)
    lines = out.splitlines()
    assert code == 0 and err == ""
    assert lines[0].split() == ["id", "name", "lines"] and len(lines) == 303
    assert any(x.split() == ["2035", "People's", "Square", "1,", "2,", "8"] for x in lines)


def test_ykt_stations_search_ignores_case_spaces_and_apostrophes(capsys):
    code, out, _ = _run(capsys, "People Square")
    assert code == 0
    assert out.splitlines()[1].split() == ["2035", "People's", "Square", "1,", "2,", "8"]


def test_ykt_stations_json(capsys):
    code, out, _ = _run(capsys, "xujiahui", "--json")
    assert json.loads(out) == [{"id": 2025, "name": "Xujiahui", "lines": ["1", "9", "11"]}]


def test_a_search_that_names_a_route_says_so(capsys):
    code, out, err = _run(capsys, "bus 71")
    assert (code, out) == (1, "")
    assert err == "ykt: no station matches 'bus 71'; it is bus route 71 (Bus 71 (example)), " \
                  "not a station\n"
    code, out, err = _run(capsys, "926")
    assert code == 0 and "Jiuting" in out
    assert err == "ykt: note: '926' is also bus route 926 (Bus 926 (example))\n"


def test_a_search_without_match_suggests_close_names(capsys):
    code, out, err = _run(capsys, "Xujaihui")
    assert (code, out) == (1, "")
    assert err.startswith("ykt: no station matches 'Xujaihui'; did you mean: Xujiahui")
