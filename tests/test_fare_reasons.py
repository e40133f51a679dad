"""`ykt fare quote` says why each discount did or did not apply (``ykt.fare.explain``: codes,
worded on the host), and has --json; the reasons agree with what the engine charged, on
CPython and on the MicroPython VM."""

import json

import farekit
import pytest
import vmscripts

from host_tools import cli


def _cases(tmp_path):
    path = tmp_path / "tariff.bin"
    path.write_bytes(farekit.payload())
    return path, json.loads(json.dumps(vmscripts.load("explain_cases").run(str(path))))


def test_each_reason_agrees_with_the_steps_the_engine_took(tmp_path):
    from ykt.fare import explain

    _, cases = _cases(tmp_path)
    seen = set()
    for fen, steps, why in cases[:-2]:
        taken = {s[0] for s in steps}
        for step, reason, a, b in why:
            seen.add(reason)
            if step in ("category", "transfer", "monthly"):
                assert (reason == explain.APPLIED) == (step in taken), (steps, why)
            else:  # issuer: the home issuer pays 100 %
                assert reason == (explain.HOME_PRICE if a == 100 else explain.APPLIED)
    assert {explain.APPLIED, explain.NOT_ALLOWED, explain.UNKNOWN_CATEGORY, explain.NO_RULE,
            explain.OUTSIDE_DAYS, explain.OUTSIDE_HOURS, explain.NO_PREVIOUS_RIDE,
            explain.BELOW_THRESHOLD, explain.HOME_PRICE} <= seen
    transfer_in_time, transfer_late = cases[-2], cases[-1]
    assert ["transfer", explain.APPLIED, 100, 0] in transfer_in_time
    assert ["monthly", explain.APPLIED, 10, 0] in transfer_in_time  # 75 yuan spent of 70
    assert ["transfer", explain.TOO_LATE, 150, 120] in transfer_late


def test_the_vm_gives_the_same_reasons(tmp_path):
    from hw_sim.vm_bridge import vm_dir

    path, cases = _cases(tmp_path)
    proc = vmscripts.run("explain_cases", path, path=vm_dir(), heap="128K", timeout=120,
                         cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [json.loads(x) for x in proc.stdout.strip().splitlines()] == cases


def quote(capsys, *args):
    rc = cli.main(["fare", "quote"] + list(args))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_a_seniors_free_window_outside_its_hours_is_named(capsys):
    rc, out, _ = quote(capsys, "--from", "People Square", "--to", "Xinzhuang",
                       "--category", "senior", "--at", "2026-11-30T08:00")
    assert rc == 0
    assert "fare: 500 fen (5.00 yuan)" in out
    assert ("  rider category senior        not given: the senior window for metro rides is "
            "09:00-16:00; this ride starts at 08:00\n") in out
    assert "  transfer discount            not given: a quote is for a card with no earlier " \
           "ride to transfer from\n" in out


def test_a_students_weekday_rule_on_a_sunday_is_named(capsys):
    rc, out, _ = quote(capsys, "--from", "2035", "--to", "2011", "--category", "student",
                       "--at", "2026-11-29T10:00")
    assert "the student rule for metro rides is not for Sundays" in out


def test_another_citys_card_gets_no_discount_and_is_told_why(capsys):
    rc, out, _ = quote(capsys, "--from", "2035", "--to", "2011", "--category", "senior",
                       "--at", "2026-11-30T10:00", "--issuer", "3100")
    assert "fare: 500 fen" in out
    assert "rider category senior        not given: the card's issuer (3100 " in out


def test_json_has_the_fare_the_steps_and_every_reason(capsys):
    rc, out, err = quote(capsys, "--from", "People's Square", "--to", "Xinzhuang",
                         "--category", "senior", "--at", "2026-11-30T10:00", "--json")
    assert (rc, err) == (0, "")
    q = json.loads(out)
    assert (q["from"], q["to"]) == ({"id": 2035, "name": "People's Square"},
                                    {"id": 2011, "name": "Xinzhuang"})
    assert (q["fen"], q["yuan"]) == (0, "0.00")
    assert [s["step"] for s in q["steps"]] == ["distance", "category"]
    why = {d["step"]: d for d in q["discounts"]}
    assert list(why) == ["category", "transfer", "monthly", "issuer"]
    assert why["category"]["applies"] and why["category"]["a"] == 100
    assert why["monthly"]["reason"] == "below-threshold" and why["monthly"]["b"] == 7000
    assert q["category"] == {"code": 1, "name": "senior"} and q["at"] == "2026-11-30T10:00"


def test_a_same_station_exit_is_a_policy_fare(capsys):
    rc, out, _ = quote(capsys, "--from", "2035", "--to", "2035", "--at", "2026-11-30T10:00")
    assert "fare: 0 fen" in out and "policy fare: no discounts" in out


@pytest.mark.parametrize("text, words", [
    ("bus 71", "--from 'bus 71' is bus route 71 (Bus 71 (example), 2.00 yuan flat), "
               "not a metro station"),
    ("Bus 926 (example)", "is bus route 926"),
    ("dongjin", "--from 'dongjin' is ferry route DONGJIN"),
    ("926", "--from '926' is both metro station 926 Jiuting and bus route 926 (Bus 926 "
            "(example), 2.00 yuan flat): for the station give its name or station:926"),
])
def test_from_never_takes_a_station_for_a_route(capsys, text, words):
    rc, out, err = quote(capsys, "--from", text, "--to", "Xujiahui")
    assert rc == 2 and out == ""
    assert err.startswith("ykt: error: " + words) or words in err
    assert err.count("\n") == 1


def test_station_prefix_takes_the_id_where_a_route_has_the_number_too(capsys):
    rc, out, _ = quote(capsys, "--from", "station:926", "--to", "Jiuting",
                       "--at", "2026-11-30T10:00")
    assert rc == 0 and out.startswith("Jiuting (926) -> Jiuting (926)")
