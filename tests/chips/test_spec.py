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
