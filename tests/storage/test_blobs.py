"""The blob stores: the disk store and the S3 store pass the same tests; then what only a server can do wrong.

The S3 store runs against a real S3-compatible HTTP server on 127.0.0.1 (moto,
``tests/blob_support.py``), through a relay the tests take down and bring back.
"""

from __future__ import annotations

import hashlib
import random

import pytest

from bastion.domain.errors import InvalidConfig, NotFound, Unavailable
from bastion.settings import Settings
from bastion.storage.blobs import MIB, DiskBlobs, S3Blobs, open_blob_store
from blob_support import loopback_only, s3, s3_server  # noqa: F401  (fixtures)
from environment import MASTER_KEY

WS = "ws_" + "a1" * 16
OTHER = "ws_" + "b2" * 16
FIL = ["fil_" + f"{i:032x}" for i in range(1, 6)]


@pytest.fixture(params=["disk", "s3"])
def store(request, tmp_path):
    """A store of each kind, made from settings as a deployment makes it (S3 parts of 5 MiB, the least)."""
    if request.param == "disk":
        settings = Settings(data_dir=tmp_path / "data", master_key=MASTER_KEY)
    else:
        bucket = request.getfixturevalue("s3")
        settings = Settings(
            data_dir=tmp_path / "data", master_key=MASTER_KEY, **bucket.settings(s3_prefix="deploy/", s3_part_size_mb=5)
        )
    made = open_blob_store(settings)
    yield made
    made.close()


def chunks(total: int, seed: int, digest=None):
    """``total`` pseudo-random bytes in 1 MiB chunks, hashed into ``digest`` as they go."""
    rnd = random.Random(seed)
    left = total
    while left:
        chunk = rnd.randbytes(min(MIB, left))
        left -= len(chunk)
        if digest is not None:
            digest.update(chunk)
        yield chunk


def test_put_get_exists_delete(store):
    assert not store.exists(WS, FIL[0])
    store.put(WS, FIL[0], b"sealed one")
    assert store.exists(WS, FIL[0]) and store.get(WS, FIL[0]) == b"sealed one"
    store.put(WS, FIL[0], [b"sealed ", b"again"])  # chunks; replaces
    assert store.get(WS, FIL[0]) == b"sealed again"
    store.put(WS, FIL[1], b"")
    assert store.get(WS, FIL[1]) == b""
    assert not store.exists(OTHER, FIL[0])  # the same id in another workspace is another blob
    store.delete(WS, FIL[0])
    store.delete(WS, FIL[0])  # twice: nothing to do
    assert not store.exists(WS, FIL[0])
    with pytest.raises(NotFound, match="missing from the blob store"):
        store.get(WS, FIL[0])


def test_a_50_mib_blob_streams_in_and_comes_back_whole(store, request):
    sent = hashlib.sha256()
    store.put(WS, FIL[0], chunks(50 * MIB, seed=1, digest=sent))
    back = store.get(WS, FIL[0])
    assert len(back) == 50 * MIB and hashlib.sha256(back).digest() == sent.digest()
    if isinstance(store, S3Blobs):  # it went up in ten 5 MiB parts, and no upload is left open
        bucket = request.getfixturevalue("s3")
        head = bucket.client.head_object(Bucket=bucket.bucket, Key=f"deploy/{WS}/{FIL[0]}")
        assert head["ETag"].strip('"').endswith("-10") and head["ContentLength"] == 50 * MIB
        assert bucket.unfinished_uploads() == []
    # exactly one part's size goes up whole; one byte more is two parts
    store.put(WS, FIL[1], chunks(5 * MIB, seed=2))
    store.put(WS, FIL[2], chunks(5 * MIB + 1, seed=3))
    assert store.get(WS, FIL[1]) == b"".join(chunks(5 * MIB, seed=2))
    assert store.get(WS, FIL[2]) == b"".join(chunks(5 * MIB + 1, seed=3))


def test_listing_by_workspace(store):
    for file_id in FIL[:3]:
        store.put(WS, file_id, b"x")
    store.put(OTHER, FIL[3], b"y")
    assert sorted(store.iter_blobs(WS)) == FIL[:3]
    assert list(store.iter_blobs(OTHER)) == [FIL[3]]
    assert list(store.iter_blobs("ws_" + "c3" * 16)) == []
    assert sorted(store.workspace_ids()) == sorted([WS, OTHER])


def test_deleting_a_workspace_deletes_its_blobs_only(store):
    for file_id in FIL[:3]:
        store.put(WS, file_id, b"x")
    store.put(OTHER, FIL[3], b"y")
    store.delete_workspace(WS)
    assert list(store.iter_blobs(WS)) == [] and not store.exists(WS, FIL[0])
    assert store.get(OTHER, FIL[3]) == b"y"
    assert list(store.workspace_ids()) == [OTHER]
    store.delete_workspace(WS)  # nothing left: nothing to do
    store.delete_workspace("ws_" + "c3" * 16)  # never stored anything


@pytest.mark.parametrize(
    "workspace_id, file_id",
    [
        ("ws_" + "a1" * 16, "../" + FIL[0]),
        ("ws_" + "a1" * 16, "fil_" + "../" + "0" * 29),
        ("ws_" + "a1" * 15 + "/.", FIL[0]),
        ("..", FIL[0]),
        ("ws_" + "a1" * 16, "fil_" + "G" * 32),
        ("ws_" + "a1" * 16, "prj_" + "0" * 32),
    ],
)
def test_ids_that_are_not_ours_are_refused(store, workspace_id, file_id):
    for call in (
        lambda: store.put(workspace_id, file_id, b"x"),
        lambda: store.get(workspace_id, file_id),
        lambda: store.exists(workspace_id, file_id),
        lambda: store.delete(workspace_id, file_id),
    ):
        with pytest.raises(NotFound):
            call()
    with pytest.raises(NotFound):
        store.delete_workspace(workspace_id if workspace_id != WS else "../" + WS)
    assert list(store.workspace_ids()) == []


def test_a_source_that_fails_part_way_stores_nothing(store, request, tmp_path):
    def failing():
        yield from chunks(12 * MIB, seed=4)  # two parts gone already on S3
        raise OSError("the source broke")

    with pytest.raises(OSError, match="the source broke"):
        store.put(WS, FIL[0], failing())
    assert not store.exists(WS, FIL[0]) and list(store.iter_blobs(WS)) == []
    if isinstance(store, S3Blobs):
        assert request.getfixturevalue("s3").unfinished_uploads() == []  # aborted
    else:
        assert list((tmp_path / "data" / "files" / WS).iterdir()) == []  # no .partial file


# -- what only an object store can do wrong ---------------------------------------------------------


@pytest.fixture
def s3_store(s3, tmp_path):
    made = open_blob_store(
        Settings(data_dir=tmp_path / "data", master_key=MASTER_KEY, **s3.settings(s3_part_size_mb=5))
    )
    yield made
    made.close()


def test_a_server_that_is_down_is_a_clear_error(s3, s3_store):
    s3_store.put(WS, FIL[0], b"sealed")
    s3.relay.down()
    for call, doing in (
        (lambda: s3_store.put(WS, FIL[1], b"x"), "store the file"),
        (lambda: s3_store.get(WS, FIL[0]), "read the file"),
        (lambda: s3_store.exists(WS, FIL[0]), "look for the file"),
        (lambda: list(s3_store.iter_blobs(WS)), "list the workspace's files"),
    ):
        with pytest.raises(Unavailable, match=f"could not be reached to {doing}") as caught:
            call()
        assert "127.0.0.1" not in caught.value.message and "testing" not in caught.value.message
    s3.relay.up()
    assert s3_store.get(WS, FIL[0]) == b"sealed" and not s3_store.exists(WS, FIL[1])


def test_server_down_mid_upload_stores_nothing_and_its_upload_is_aborted_when_back(s3, s3_store):
    def source():
        yield from chunks(11 * MIB, seed=5)  # two parts are up by now
        s3.relay.down()
        yield from chunks(4 * MIB, seed=6)

    with pytest.raises(Unavailable, match="could not be reached to store the file"):
        s3_store.put(WS, FIL[0], source())
    assert s3.objects() == {}
    assert len(s3.unfinished_uploads()) == 1  # the abort could not reach the server either
    s3.relay.up()
    s3_store.put(WS, FIL[1], b"next")  # the store's next call aborts it
    assert s3.unfinished_uploads() == [] and list(s3.objects()) == [f"{WS}/{FIL[1]}"]


def test_an_error_from_the_server_mid_upload_aborts_the_upload(s3, s3_store):
    from botocore.exceptions import ClientError

    def refuse_the_third_part(params, **kwargs):
        if params.get("PartNumber") == 3:
            raise ClientError(
                {"Error": {"Code": "InternalError", "Message": "We encountered an internal error"}}, "UploadPart"
            )

    s3_store.client.meta.events.register("provide-client-params.s3.UploadPart", refuse_the_third_part)
    with pytest.raises(Unavailable, match=r"refused to store the file \(InternalError\)"):
        s3_store.put(WS, FIL[0], chunks(16 * MIB, seed=7))
    assert s3.objects() == {} and s3.unfinished_uploads() == []


def test_deleting_a_workspace_while_the_server_is_down_finishes_when_it_is_back(s3, s3_store):
    s3_store.put(WS, FIL[0], b"a")
    s3_store.put(OTHER, FIL[1], b"b")
    s3.client.create_multipart_upload(Bucket=s3.bucket, Key=f"{WS}/{FIL[2]}")  # an upload someone left open
    s3.relay.down()
    s3_store.delete_workspace(WS)  # the workspace is gone already: this never fails its caller
    assert sorted(s3.objects()) == [f"{WS}/{FIL[0]}", f"{OTHER}/{FIL[1]}"]
    s3.relay.up()
    s3_store.put(OTHER, FIL[3], b"c")
    assert sorted(s3.objects()) == [f"{OTHER}/{FIL[1]}", f"{OTHER}/{FIL[3]}"] and s3.unfinished_uploads() == []


def test_a_refusing_bucket_is_a_clear_error(s3, tmp_path):
    missing = open_blob_store(
        Settings(data_dir=tmp_path / "data", master_key=MASTER_KEY, **{**s3.settings(), "s3_bucket": "no-such-bucket"})
    )
    try:
        with pytest.raises(Unavailable, match=r"refused to store the file \(NoSuchBucket\)"):
            missing.put(WS, FIL[0], b"x")
    finally:
        missing.close()


def test_configuration_errors_name_the_setting(tmp_path):
    base = {"data_dir": tmp_path / "data", "master_key": MASTER_KEY}
    with pytest.raises(InvalidConfig, match="s3_bucket"):
        open_blob_store(Settings(**base, blob_store="s3"))
    with pytest.raises(InvalidConfig, match="blob_store: no blob store named 'tape'"):
        open_blob_store(Settings(**base, blob_store="tape"))
    with pytest.raises(ValueError, match="s3_part_size_mb"):
        Settings(**base, s3_part_size_mb=4)
    assert isinstance(open_blob_store(Settings(**base)), DiskBlobs)


def test_a_plugin_store_is_chosen_by_its_name(tmp_path):
    from bastion.plugins import hookimpl, plugin_manager

    class Plugin:
        @hookimpl
        def bastion_blob_stores(self):
            return {"elsewhere": lambda settings: DiskBlobs(settings.data_dir / "elsewhere")}

    plugin = Plugin()
    plugin_manager().register(plugin, name="test-blob-store")
    try:
        made = open_blob_store(Settings(data_dir=tmp_path / "data", master_key=MASTER_KEY, blob_store="elsewhere"))
        made.put(WS, FIL[0], b"sealed")
        assert (tmp_path / "data" / "elsewhere" / WS / FIL[0]).read_bytes() == b"sealed"
    finally:
        plugin_manager().unregister(plugin)
