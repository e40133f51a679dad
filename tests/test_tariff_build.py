"""`ykt tariff build`: source validation, the compiled payload and reading it back."""

import io
import json
import struct

import farekit
import pytest

from host_tools import cli
from host_tools.lib import tariff as ht
from host_tools.lib.tariff_payload import read_payload
from ykt.fare import engine
from ykt.fare.tariff import Tariff, TariffError


def _model():
    return ht.validate(farekit.source())


def _error(change):
    src = farekit.source()
    change(src)
    with pytest.raises(ht.TariffSourceError) as e:
        ht.validate(src)
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def _station(src, sid):
    return next(s for s in src["stations"] if s["id"] == sid)


# -- validation --------------------------------------------------------------------------------

def test_the_repository_source_is_valid():
    m = _model()
    assert (len(m.ids), len(m.lines)) == (302, 14)


def test_edge_to_an_unknown_station_names_the_edge():
    def change(src):
        src["edges"][0]["b"] = 9999
    assert _error(change) == "edge 112-9999 (line 1): unknown station 9999"


def test_edge_on_an_unknown_line_names_the_line():
    def change(src):
        src["edges"][0]["line"] = "99"
    assert "edge 112-113 (line 99): unknown line '99'" == _error(change)


def test_edge_on_a_line_its_station_does_not_list_is_refused():
    def change(src):
        src["edges"][0]["line"] = "2"
    assert "station 112 'Waihuanlu' does not list line 2" in _error(change)


def test_edge_length_must_be_whole_metres():
    def change(src):
        src["edges"][0]["km"] = 1.4425
    assert _error(change) == "edge 112-113 (line 1) km: 1.4425 km is not a whole number of metres"


def test_edge_length_must_be_positive():
    def change(src):
        src["edges"][0]["km"] = 0
    assert _error(change) == "edge 112-113 (line 1): km must be > 0"


def test_duplicate_station_id_is_refused():
    def change(src):
        src["stations"][1]["id"] = src["stations"][0]["id"]
    assert _error(change) == "station 112: duplicate id"


def test_station_names_must_differ_ignoring_case():
    def change(src):
        src["stations"][1]["name"] = "WAIHUANLU"
    assert "same name as station 112" in _error(change)


def test_station_on_an_unknown_line_is_refused():
    def change(src):
        _station(src, 2035)["lines"].append("X")
    assert _error(change) == "station 2035 \"People's Square\": unknown line 'X'"


def test_disconnected_station_is_named():
    def change(src):
        src["edges"] = [e for e in src["edges"] if 513 not in (e["a"], e["b"])]
    assert "station 513 'Minhang Development Zone' cannot be reached" in _error(change)


def test_fare_bands_must_join_up():
    def change(src):
        src["metro_fare"]["steps"][0]["from_km"] = 5
    assert "metro_fare.steps[0]: from_km 5 must be where the previous band ends (6.0 km)" \
        == _error(change)


def test_fare_band_km_must_be_whole_decametres():
    def change(src):
        src["metro_fare"]["base_km"] = 6.005
    assert "not a whole number of decametres" in _error(change)


def test_money_must_be_whole_fen():
    def change(src):
        src["routes"][0]["fen"] = 2.5
    assert _error(change) == "bus route '926' fen: 2.5 is not a whole number of fen"


def test_category_percentage_above_100_is_refused():
    def change(src):
        src["categories"][1]["rules"][0]["percent_off"] = 150
    assert "category 1 'senior' rule 0 percent_off: 150 is outside 0..100" == _error(change)


def test_transfer_with_an_unknown_mode_is_refused():
    def change(src):
        src["transfers"][0]["from"] = "tram"
    assert _error(change) == "transfers[0].from: unknown mode 'tram' (metro, bus, ferry)"


def test_issuers_need_a_default_entry():
    def change(src):
        src["issuers"] = [i for i in src["issuers"] if i["city"] != "*"]
    assert "no default entry" in _error(change)


def test_issuer_city_must_be_four_hex_digits():
    def change(src):
        src["issuers"][0]["city"] = "shanghai"
    assert "city 'shanghai' must be 4 hex digits" in _error(change)


def test_duplicate_route_is_refused():
    def change(src):
        src["routes"].append(dict(src["routes"][0]))
    assert _error(change) == "bus route '926': duplicate route"


def test_monthly_rule_only_for_metro():
    def change(src):
        src["monthly"][0]["mode"] = "ferry"
    assert "only metro spend is counted" in _error(change)


def test_unknown_field_is_refused():
    def change(src):
        src["policies"]["same_station"]["grace_minute"] = 5
    assert "unknown field 'grace_minute'" in _error(change)


def test_fixed_policy_needs_an_amount():
    def change(src):
        src["policies"]["missing_entry"] = {"kind": "fixed"}
    assert _error(change) == "policies.missing_entry: kind fixed needs fen"


def test_malformed_json_reports_line_and_column(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text('{\n  "format": "ykt-tariff-source/1",\n  "lines": [,]\n}\n')
    with pytest.raises(ht.TariffSourceError, match=r"line 3 column 13"):
        ht.load_source(str(p))


# -- payload -----------------------------------------------------------------------------------

def test_header_carries_magic_format_and_version():
    data = ht.compile_payload(_model(), 42)
    magic, fmt, _, nsec, version, length = struct.unpack_from(">4sBBHII", data, 0)
    assert (magic, fmt, nsec, version, length) == (b"YKTF", 2, 12, 42, len(data))


def test_header_carries_the_crc32_of_everything_but_itself():
    import zlib

    data = ht.compile_payload(_model(), 42)
    assert struct.unpack_from(">I", data, 20)[0] == zlib.crc32(data[:20] + data[24:])


def test_version_zero_is_refused():
    with pytest.raises(ht.TariffSourceError, match="version"):
        ht.compile_payload(_model(), 0)


def test_distance_table_stores_each_unordered_pair_once():
    info = dict(read_payload(farekit.payload())["sections"])
    assert info["DIST"] == 302 * 301
    assert len(farekit.payload()) < 100_000


def test_round_trip_keeps_stations_distances_and_rules():
    m = _model()
    out = read_payload(ht.compile_payload(m, 5))
    src = farekit.source()
    assert [(s["id"], s["name"], s["lines"]) for s in out["stations"]] == \
        sorted((s["id"], s["name"], s["lines"]) for s in src["stations"])
    assert out["dam"] == m.dam
    assert out["metro_fare"] == {"base_fen": 300, "base_dam": 600, "max_fen": None,
                                 "steps": [{"from_dam": 600, "to_dam": 0xFFFF, "every_dam": 1000,
                                            "add_fen": 100}]}
    assert out["transfers"] == src["transfers"]
    assert [{k: r[k] for k in ("mode", "threshold_fen", "percent_off", "crossing")}
            for r in out["monthly"]] == src["monthly"]
    assert [(c["code"], c["name"]) for c in out["categories"]] == \
        [(c["code"], c["name"]) for c in src["categories"]]
    assert [(i["city"], i["accept"]) for i in out["issuers"]] == \
        [(i["city"], i["accept"]) for i in src["issuers"]]
    assert [(r["mode"], r["route"], r["fen"]) for r in out["routes"]] == \
        [(r["mode"], r["route"], r["fen"]) for r in src["routes"]]
    assert out["policies"]["time_limit"] == {"minutes": 240,
                                             "surcharge": {"kind": "fixed", "fen": 300}}
    assert out["line_exceptions"][0]["line"] == "5"
    assert len(out["line_exceptions"][0]["pairs"]) == 110


def test_firmware_reader_agrees_with_the_host_reader():
    out = read_payload(farekit.payload())
    t = farekit.tariff()
    for i in range(0, 302, 37):
        s = out["stations"][i]
        assert (t.station_id(i), t.name(s["id"]), t.station_lines(s["id"]), t.max_dam(s["id"])) \
            == (s["id"], s["name"], s["lines"], s["max_dam"])
        for j in range(0, 302, 29):
            assert t.distance_dam(s["id"], out["stations"][j]["id"]) == out["dam"][i][j]


def test_firmware_reader_refuses_a_truncated_file():
    with pytest.raises(TariffError, match="header says"):
        Tariff(io.BytesIO(farekit.payload()[:-1]))


def test_firmware_reader_refuses_another_file():
    with pytest.raises(TariffError, match="not a tariff"):
        Tariff(io.BytesIO(b"YKUP" + bytes(100)))


def test_unknown_station_raises_tariff_error():
    with pytest.raises(TariffError, match="unknown station 1234"):
        farekit.tariff().distance_dam(1234, 2035)


def test_fare_bands_are_data():
    def change(src):  # Beijing-style: 3 to 6 km, +1 per 6 km to 12, per 10 km to 32, per 20 km
        src["metro_fare"]["steps"] = [
            {"from_km": 6, "to_km": 12, "every_km": 6, "add_fen": 100},
            {"from_km": 12, "to_km": 32, "every_km": 10, "add_fen": 100},
            {"from_km": 32, "to_km": None, "every_km": 20, "add_fen": 100}]
        src["metro_fare"]["max_fen"] = 700
    src = farekit.source()
    change(src)
    t = farekit.tariff(src)
    assert [engine.distance_fare(t, d) for d in (600, 601, 1200, 1201, 2200, 2201, 3200, 3201,
                                                 5201, 9999)] == \
        [300, 400, 400, 500, 500, 600, 600, 700, 700, 700]


# -- the command -------------------------------------------------------------------------------

def test_build_command_writes_the_payload(tmp_path, capsys):
    out = tmp_path / "tariff.bin"
    rc = cli.main(["tariff", "build", farekit.SOURCE, "--version", "9", "--out", str(out)])
    assert rc == 0
    data = out.read_bytes()
    assert data == ht.compile_payload(_model(), 9)
    assert "tariff v9: %d bytes" % len(data) in capsys.readouterr().out


def test_build_command_signs_an_update_for_a_terminal(tmp_path):
    from host_tools.lib import updates

    key = tmp_path / "master.key"
    key.write_text("00112233445566778899aabbccddeeff\n")
    signed = tmp_path / "tariff.upd"
    rc = cli.main(["tariff", "build", farekit.SOURCE, "--version", "3", "--out",
                   str(tmp_path / "t.bin"), "--device", "0102030405a1", "--master-key-file",
                   str(key), "--signed-out", str(signed)])
    assert rc == 0
    data = signed.read_bytes()
    info = updates.parse(data)
    assert (info["kind"], info["version"], info["terminal"]) == ("tariff", 3, "0102030405a1")
    assert updates.verify(data, bytes.fromhex("00112233445566778899aabbccddeeff"))
    assert data[20:-16] == (tmp_path / "t.bin").read_bytes()


def test_build_command_reports_a_source_error_in_one_line(tmp_path, capsys):
    src = farekit.source()
    src["edges"][0]["b"] = 9999
    p = tmp_path / "s.json"
    p.write_text(json.dumps(src))
    rc = cli.main(["tariff", "build", str(p), "--version", "1", "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert rc == 2
    assert err == "ykt: error: edge 112-9999 (line 1): unknown station 9999\n"
    assert not (tmp_path / "x").exists()


def test_check_command_summarises_the_network(capsys):
    assert cli.main(["tariff", "check", farekit.SOURCE]) == 0
    assert "302 stations" in capsys.readouterr().out
