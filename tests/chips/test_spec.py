import pytest
import yaml
from pydantic import ValidationError

from aimc.calibration import GlobalDriftCompensation
from aimc.chips import ChipSpec, list_chips, load_chip


def test_presets_load_and_validate():
    assert {"ibm-hermes-pcm", "ideal"} <= set(list_chips())
    chip = load_chip("ibm-hermes-pcm")
    assert (chip.array.rows, chip.array.cols) == (256, 256)
    assert (chip.dac.bits, chip.adc.bits) == (8, 8)
    assert chip.device.name == "pcm" and chip.device.g_max == 25e-6
    assert isinstance(chip.compensation, GlobalDriftCompensation)
    assert any("Le Gallo" in s for s in chip.sources)
    assert load_chip() == chip  # the default preset


def test_user_yaml_round_trip(tmp_path):
    chip = load_chip("ibm-hermes-pcm").model_copy(update={"name": "mine"})
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(chip.model_dump(mode="json")))
    assert load_chip(path) == chip


@pytest.mark.parametrize("data,loc,allowed", [
    ({"adc": {"bits": 0}}, "adc.bits", "greater than 0"),
    ({"dac": {"bits": -1}}, "dac.bits", "greater than 0"),
    ({"device": {"name": "pcm", "g_max": 0.0}}, "device.pcm.g_max", "greater than 0"),
    ({"device": {"name": "pcm", "g_max": -1e-6}}, "device.pcm.g_max", "greater than 0"),
    ({"array": {"rows": 0}}, "array.rows", "greater than 0"),
    ({"array": {"cols": -3}}, "array.cols", "greater than 0"),
    ({"device": {"name": "memristor9000"}}, "device", "'pcm', 'rram', 'flash', 'measured', 'ideal'"),
    ({"adc": {"bits": "eight"}}, "adc.bits", "valid integer"),
    ({"dac": {"v_read": "high"}}, "dac.v_read", "valid number"),
    ({"compensation": {"method": "magic"}}, "compensation", "'none', 'gdc'"),
    ({"adc": {"bitz": 8}}, "adc.bitz", "Extra inputs are not permitted"),
    ({"adc": {"bits": 17}}, "adc.bits", "less than or equal to 16"),
    ({"dac": {"bits": 100}}, "dac.bits", "less than or equal to 16"),
])
def test_bad_values_name_field_and_allowed_range(data, loc, allowed):
    with pytest.raises(ValidationError) as info:
        ChipSpec.model_validate(data)
    text = str(info.value)
    assert loc in text and allowed in text


def test_bad_yaml_file_errors(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("adc:\n  bits: 0\n")
    with pytest.raises(ValidationError, match="adc.bits"):
        load_chip(path)
    path.write_text("- just\n- a list\n")
    with pytest.raises(ValueError, match="mapping"):
        load_chip(path)
    with pytest.raises(ValueError, match="ibm-hermes-pcm"):  # names the presets
        load_chip("nope")


PUBLISHED = {"ibm-hermes-pcm": ("pcm", 64, 256), "ibm-speech-pcm": ("pcm", 34, 512),
             "neurram": ("rram", 48, 256), "mythic-m1076": ("flash", 76, 1024)}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_presets_cite_sources_and_assumptions(name):
    chip = load_chip(name)
    device, cores, rows = PUBLISHED[name]
    assert (chip.device.name, chip.cores, chip.array.rows) == (device, cores, rows)
    assert chip.sources and chip.assumptions and chip.node_nm
    # a preset round-trips through YAML unchanged
    assert ChipSpec.model_validate(yaml.safe_load(yaml.safe_dump(chip.model_dump(mode="json")))) == chip


def test_speech_chip_uses_four_devices_per_weight():
    chip = load_chip("ibm-speech-pcm")
    assert chip.encoding.kind == "multi_pair" and chip.encoding.significance == 1.0


def test_mythic_preset_names_its_flash_model_correctly():
    # aimc's flash device is SONOS charge trap; Mythic uses embedded NOR flash: say which is which
    chip = load_chip("mythic-m1076")
    assert "NOR" in chip.description and "SONOS" in chip.description
    assert any("SONOS" in a and "NOR" in a for a in chip.assumptions)


def test_cost_ranges_round_trip_and_name_the_parameter():
    chip = load_chip("mythic-m1076")
    assert chip.cost.ranges["timing.integration_s"] == (1e-6, 1e-5)
    with pytest.raises(ValidationError, match=r"cost.ranges\['timing.integration_s'\].*does not contain"):
        ChipSpec.model_validate(chip.model_dump() | {"timing": {"integration_s": 20e-6}})
