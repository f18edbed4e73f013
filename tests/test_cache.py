"""The cache of release files: stamps, re-checks of changed files, corrupt files."""

import dataclasses
from pathlib import Path

import pytest

from atlasod.data.cache import adler32_of, check_cached, stamp_path, write_stamp
from atlasod.data.catalogue import Catalogue, SampleFile
from atlasod.errors import AtlasodError


@pytest.fixture
def cached(tmp_path: Path, catalogue: Catalogue) -> tuple[SampleFile, Path]:
    path = tmp_path / "data_A.GamGam.root"
    path.write_bytes(bytes(range(256)) * 100)
    sample = dataclasses.replace(
        catalogue.file("data_A.GamGam.root"), size=25_600, adler32=adler32_of(path)
    )
    write_stamp(path, adler32_of(path))
    return sample, path


def test_an_unchanged_verified_file_is_used_without_reading_it(
    cached: tuple[SampleFile, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    sample, path = cached
    monkeypatch.setattr("atlasod.data.cache.adler32_of", lambda p: pytest.fail("read again"))
    assert check_cached(sample, path) is None


def test_a_changed_file_is_checked_and_removed_when_wrong(cached: tuple[SampleFile, Path]) -> None:
    sample, path = cached
    data = bytearray(path.read_bytes())
    data[100] ^= 0x01
    path.write_bytes(bytes(data))
    problem = check_cached(sample, path)
    assert problem is not None
    assert problem.startswith(f"{path}: adler32 ")
    assert problem.endswith(
        f", the catalogue says {sample.adler32}; removed it, to be fetched again"
    )
    assert not path.exists() and not stamp_path(path).exists()


def test_a_corrupt_file_in_a_read_only_cache_stops_the_run(
    cached: tuple[SampleFile, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    sample, path = cached
    path.write_bytes(b"x" * 25_600)

    def refuse(self: Path, missing_ok: bool = False) -> None:
        raise PermissionError(30, "Read-only file system")

    monkeypatch.setattr(Path, "unlink", refuse)
    with pytest.raises(AtlasodError) as err:
        check_cached(sample, path)
    assert str(err.value) == (
        f"cached input {path} is corrupt (adler32 {adler32_of(path)}, the catalogue says "
        f"{sample.adler32}) and cannot be removed (Read-only file system): remove it, or ask "
        "whoever fills this cache to fetch it again"
    )


def test_always_checks_even_an_unchanged_file(cached: tuple[SampleFile, Path]) -> None:
    sample, path = cached
    wrong = dataclasses.replace(sample, adler32="00000001")
    write_stamp(path, "00000001")  # a stamp that agrees with the (wrong) catalogue
    assert check_cached(wrong, path) is None  # trusted: size and time unchanged
    assert check_cached(wrong, path, always=True) is not None
