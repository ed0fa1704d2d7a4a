"""Trainer checkpoints: resume only into the same model and configuration, say so, and refuse
stale, foreign, truncated or garbage files with a message naming the file."""

import os
import warnings

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

import aimc
from aimc.chips import load_chip
from aimc.training import Trainer, enable_hwa
from aimc.training import trainer as trainer_module
from aimc.training.trainer import CheckpointError, ResumeWarning


def toy(n=64):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 6, generator=g)
    return x, (x[:, 0] > 0).long()


def make(hidden=8, lr=1e-2, seed=0, **kw):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, hidden), nn.ReLU(), nn.Linear(hidden, 2))
    return Trainer(model, torch.optim.Adam(model.parameters(), lr=lr), seed=seed, **kw)


@pytest.fixture
def ckpt(tmp_path):
    path = tmp_path / "run.safetensors"
    make(checkpoint=path).fit(toy(), epochs=2, batch_size=16, progress=False)
    return path


def test_resume_says_so_and_continues_from_the_saved_epoch(ckpt):
    with pytest.warns(ResumeWarning, match=rf"resuming from checkpoint .*{ckpt.name} at epoch 2"):
        trainer = make(checkpoint=ckpt)
    assert trainer.epoch == trainer.resumed_from == 2
    assert len(trainer.fit(toy(), epochs=3, batch_size=16, progress=False)) == 1


def test_finished_checkpoint_warns_that_nothing_is_left_to_train(ckpt):
    with pytest.warns(ResumeWarning):
        trainer = make(checkpoint=ckpt)
    with pytest.warns(ResumeWarning, match="already at epoch 2 >= epochs=2: nothing left"):
        assert trainer.fit(toy(), epochs=2, batch_size=16, progress=False) == []


@pytest.mark.parametrize("kw,differs", [
    ({"hidden": 9}, "model architecture"),
    ({"lr": 1e-3}, "optimizer"),
    ({"seed": 1}, "seed"),
])
def test_checkpoint_of_another_model_or_configuration_is_refused(ckpt, kw, differs):
    with pytest.raises(CheckpointError, match=rf"{ckpt.name} belongs to another .*{differs}"):
        make(checkpoint=ckpt, **kw)


def test_other_loss_function_is_refused(ckpt):
    with pytest.raises(CheckpointError, match="loss function"):
        make(checkpoint=ckpt, loss_fn=nn.functional.nll_loss)


def test_same_architecture_on_another_chip_is_refused(tmp_path):
    def analog(chip):
        torch.manual_seed(0)
        model, _ = aimc.convert(nn.Sequential(nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 2)), load_chip(chip))
        model = enable_hwa(model, seed=0)
        return Trainer(model, torch.optim.SGD(model.parameters(), lr=1e-2), checkpoint=tmp_path / "a.st")

    analog("ideal").fit(toy(32), epochs=1, batch_size=16, progress=False)
    with pytest.raises(CheckpointError, match="analog configuration"):
        analog("ibm-hermes-pcm")


@pytest.mark.parametrize("change,differs", [
    (lambda x, y: (x, y, 32), "batch size"),
    (lambda x, y: (x * 2, y, 16), "training inputs"),
    (lambda x, y: (x, 1 - y, 16), "training labels"),
])
def test_resuming_with_other_data_or_batch_size_is_refused(ckpt, change, differs):
    x, y, batch = change(*toy())
    with pytest.warns(ResumeWarning):
        trainer = make(checkpoint=ckpt)
    with pytest.raises(CheckpointError, match=rf"{ckpt.name} was trained with other {differs}"):
        trainer.fit((x, y), epochs=3, batch_size=batch, progress=False)


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", b"\xff" * 40],
                         ids=["empty", "text", "garbage"])
def test_garbage_file_names_the_file_not_the_deserializer(tmp_path, content):
    path = tmp_path / "junk.safetensors"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=r"junk\.safetensors is not a readable safetensors file") as err:
        make(checkpoint=path)
    assert "Error while deserializing" not in str(err.value) and "\n" not in str(err.value)


def test_truncated_checkpoint_names_the_file(ckpt):
    data = ckpt.read_bytes()
    ckpt.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=rf"{ckpt.name} is not a readable safetensors file"):
        make(checkpoint=ckpt)


def test_safetensors_file_without_fingerprint_is_refused(tmp_path):
    path = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(3)}, str(path))
    with pytest.raises(CheckpointError, match="foreign.safetensors has no aimc trainer fingerprint"):
        make(checkpoint=path)


def test_missing_or_bad_checkpoint_folder_is_reported_before_training(tmp_path):
    missing = tmp_path / "no" / "such" / "run.safetensors"
    with pytest.raises(CheckpointError, match=r"checkpoint folder .*such does not exist"):
        make(checkpoint=missing)  # at construction: no epoch has run
    with pytest.raises(CheckpointError, match="is a folder"):
        make(checkpoint=tmp_path)
    if os.geteuid() != 0:  # root can write anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(CheckpointError, match="not writable"):
            make(checkpoint=locked / "run.safetensors")


def test_save_is_atomic(ckpt, monkeypatch):
    before = ckpt.read_bytes()
    assert [p.name for p in ckpt.parent.iterdir()] == [ckpt.name]  # no temporary files left

    def crash(tensors, filename, metadata=None):
        with open(filename, "wb") as handle:
            handle.write(b"half a file")
        raise KeyboardInterrupt

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResumeWarning)
        trainer = make(checkpoint=ckpt)
    monkeypatch.setattr(trainer_module, "save_file", crash)
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(toy(), epochs=3, batch_size=16, progress=False)
    assert ckpt.read_bytes() == before  # the old checkpoint survives an interrupted save
    assert [p.name for p in ckpt.parent.iterdir()] == [ckpt.name]
