"""A configuration's relative paths (``tariff``, ``canteen``) resolve next to the scenario
file that names them, never against the repository root or the working directory
(docs/scenarios.md "Terminals")."""

import json
import os
import shutil

import pytest
from poskit import EXAMPLE, canteen

from hw_sim.scenario import ROOT, Scenario, ScenarioError

SHIPPED = sorted(os.path.join(ROOT, "scenarios", f)
                 for f in os.listdir(os.path.join(ROOT, "scenarios")) if f.endswith(".json"))


def pos_scenario(directory, rules_path):
    data = {"terminals": [{"id": "POS", "role": "pos", "board": "s3-canteen-pos",
                           "config": {"canteen": rules_path}}],
            "cards": [], "events": []}
    path = directory / "pos.json"
    path.write_text(json.dumps(data))
    return str(path)


def test_a_rule_set_named_by_a_relative_path_is_read_next_to_the_scenario_file(
        tmp_path, monkeypatch):
    rules = dict(canteen(), name="Next door canteen")
    (tmp_path / "sc").mkdir()
    (tmp_path / "sc" / "rules.json").write_text(json.dumps(rules))
    monkeypatch.chdir(tmp_path)  # not the scenario's directory
    cfg = Scenario.load(pos_scenario(tmp_path / "sc", "rules.json")).terminal_config()
    assert cfg["canteen"]["name"] == "Next door canteen"


def test_a_relative_path_is_not_taken_from_the_repository_root(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    sc = Scenario.load(pos_scenario(tmp_path, "canteens/putuo-example.json"))
    with pytest.raises(ScenarioError, match="canteen rules canteens/putuo-example.json: "):
        sc.terminal_config()


def test_a_path_up_from_the_scenario_file_reaches_the_repositorys_rule_set(tmp_path):
    (tmp_path / "canteens").mkdir()
    shutil.copy(EXAMPLE, tmp_path / "canteens" / "x.json")
    (tmp_path / "scenarios").mkdir()
    sc = Scenario.load(pos_scenario(tmp_path / "scenarios", "../canteens/x.json"))
    assert sc.terminal_config()["canteen"] == canteen()


def test_an_absolute_path_stays_as_it_is(tmp_path):
    sc = Scenario.load(pos_scenario(tmp_path, EXAMPLE))
    assert sc.terminal_config()["canteen"] == canteen()


def test_a_tariff_named_by_a_relative_path_is_compiled_from_next_to_the_scenario_file(
        tmp_path, monkeypatch):
    shutil.copy(os.path.join(ROOT, "tariffs", "shanghai-2017.json"), tmp_path / "t.json")
    data = {"terminals": [{"id": "G", "role": "entry_gate", "board": "devkitc-turnstile",
                           "config": {"station": 2025, "tariff": "t.json"}}],
            "cards": [], "events": []}
    (tmp_path / "gate.json").write_text(json.dumps(data))
    monkeypatch.chdir(ROOT)
    sc = Scenario.load(str(tmp_path / "gate.json"))
    assert [name for name, _ in sc.deliveries(sc.terminals[0])] == ["tariff.upd"]


@pytest.mark.parametrize("path", SHIPPED, ids=[os.path.basename(p) for p in SHIPPED])
def test_every_shipped_scenario_finds_its_files_from_any_directory(path, tmp_path,
                                                                  monkeypatch):
    monkeypatch.chdir(tmp_path)
    sc = Scenario.load(path)
    for t in sc.terminals:
        cfg = sc.terminal_config(t)
        assert not isinstance(cfg.get("canteen"), str)
        sc.deliveries(t)
