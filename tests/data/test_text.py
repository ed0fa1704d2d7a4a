import pytest
import torch

from aimc.data.text import UNKNOWN, CharVocab, fortune_entries, fortunes_text, split_entries


def write_fortunes(folder):
    (folder / "animals").write_text("A cat.\n%\nA dog\nbarks.\n%\n%\nA cow.\n")
    (folder / "animals.dat").write_bytes(b"\x00\x01binary index")
    (folder / "animals.u8").symlink_to(folder / "animals")
    (folder / "plants").write_text("A tree.\n%\nA cat.\n%\nMoss\n")  # "A cat." repeats


def test_loader_parses_entries_skips_index_links_and_duplicates(tmp_path):
    write_fortunes(tmp_path)
    entries = fortune_entries(tmp_path)
    assert entries == ["A cat.", "A dog\nbarks.", "A cow.", "A tree.", "Moss"]
    assert fortune_entries(tmp_path, files=["plants"]) == ["A tree.", "A cat.", "Moss"]


def test_split_is_deterministic_disjoint_and_complete(tmp_path):
    entries = [f"entry {i}" for i in range(200)]
    a, b = split_entries(entries, 0.1, 0.2, seed=3), split_entries(entries, 0.1, 0.2, seed=3)
    assert a == b and len(a.validation) == 20 and len(a.test) == 40
    parts = [set(a.train), set(a.validation), set(a.test)]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    assert set().union(*parts) == set(entries)
    assert split_entries(entries, 0.1, 0.2, seed=4).validation != a.validation
    write_fortunes(tmp_path)
    corpus = fortunes_text(tmp_path, validation=0.2, test=0.2, seed=0)
    assert corpus.text("test") == "\n%\n".join(corpus.test) + "\n%\n"


def test_vocab_round_trips_and_maps_unknown_characters():
    vocab = CharVocab.build(["hello world\n"])
    text = "low hell\n"
    ids = vocab.encode(text)
    assert ids.dtype == torch.int64 and vocab.decode(ids) == text and len(vocab) == 10  # 9 + unknown
    assert vocab.decode(vocab.encode("hex")) == f"he{UNKNOWN}"
    assert len(CharVocab.build(["aab"], min_count=2)) == 2
    with pytest.raises(ValueError, match="ids must lie"):
        vocab.decode([len(vocab)])


def test_missing_corpus_names_the_debian_package(tmp_path):
    with pytest.raises(FileNotFoundError, match="'fortunes'"):
        fortunes_text(tmp_path / "absent")
    with pytest.raises(FileNotFoundError, match="'fortunes'"):
        fortunes_text(tmp_path)  # a folder without fortune files
    write_fortunes(tmp_path)
    with pytest.raises(FileNotFoundError, match="no fortune file nope"):
        fortune_entries(tmp_path, files=["nope"])


def test_bad_fractions_are_refused():
    with pytest.raises(ValueError, match="fractions"):
        split_entries(["a", "b", "c"], 0.6, 0.5)
