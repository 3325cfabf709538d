"""exiftool 13.59 as an independent reader: no new -validate warnings, and MWG readers see what captioner meant."""

from __future__ import annotations

import subprocess

from captioner.photos.metadata import MetadataUpdate, embed, write_sidecar
from tests.photos.metadata.conftest import validate
from tests.photos.metadata.library import EXIF_HAND, NON_UTF8_NAME

UPDATE = MetadataUpdate("Ein Fuchs im Schnee – a fox", keywords=("fox", "Schnee"), hierarchical=("animal/fox",))
EMBEDDABLE = [
    "rich.jpg",
    "plain.jpg",
    "exif_hand.jpg",
    "exif_latin1.jpg",
    "iptc_only.jpg",
    "iptc_latin1.jpg",
    "de_only.jpg",
    "keywords.jpg",
    "digest.jpg",
    "chunks.png",
    "lossy.webp",
    "alpha.webp",
    "hard_a.jpg",
    NON_UTF8_NAME,
]


def test_embedding_adds_no_validate_warning(lib, exiftool):
    photos = [lib[n] for n in EMBEDDABLE]
    before = validate(exiftool, photos)
    for photo in photos:
        embed(photo, UPDATE)
        embed(photo, UPDATE)
    after = validate(exiftool, photos)
    introduced = {p.name: after[p] - before[p] for p in photos if after[p] - before[p]}
    assert introduced == {}


def test_sidecars_validate(lib, exiftool):
    sidecars = [write_sidecar(lib[n], UPDATE).path for n in ["rich.jpg", "plain.jpg", "de_only.jpg", "pair.png"]]
    assert all(not w for w in validate(exiftool, sidecars).values())


def _mwg(exiftool, path, *tags):
    out = subprocess.run(
        [*exiftool, "-use", "MWG", "-s3", "-sep", "|", *tags, path.name],
        cwd=path.parent,
        capture_output=True,
        check=True,
    )
    return out.stdout.decode().splitlines()


def test_mwg_readers_see_the_caption_and_keywords(lib, exiftool):
    photo = lib["keywords.jpg"]
    embed(photo, UPDATE)
    assert _mwg(exiftool, photo, "-MWG:Description", "-MWG:Keywords") == [
        UPDATE.caption,
        "cat|Familie|iptc-only|fox|Schnee",
    ]


def test_mwg_readers_see_the_hand_caption(lib, exiftool):
    photo = lib["exif_hand.jpg"]
    embed(photo, UPDATE)
    assert _mwg(exiftool, photo, "-MWG:Description") == [EXIF_HAND]


def test_iptc_digest_is_brought_up_to_date(lib, exiftool):
    photo = lib["digest.jpg"]
    embed(photo, UPDATE)  # the hand caption stays; the keywords change IPTC
    out = (
        subprocess.run(
            [*exiftool, "-s3", "-IPTCDigest", "-CurrentIPTCDigest", photo.name],
            cwd=photo.parent,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split()
    )
    assert len(out) == 2 and out[0] == out[1]
