"""The download path, against a local HTTP server on 127.0.0.1 serving fixture files:
success, checksum mismatch, interrupted transfer and server down."""
from __future__ import annotations

import hashlib
import http.server
import socket
import threading

import numpy as np
import pytest

from cnnlib import datasets, download
from cnnlib.errors import ChecksumMismatchError, DatasetNotFoundError, DownloadError

from .conftest import cifar_tar_bytes, write_mnist_npz


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict = {}

    def do_GET(self):  # noqa: N802 - http.server's name
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        if self.path.startswith("/truncated/"):
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 3])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)  # the transfer breaks off
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", _Handler.files
    httpd.shutdown()
    httpd.server_close()
    _Handler.files.clear()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _npz_bytes(tmp_path):
    write_mnist_npz(tmp_path / "src" / "mnist.npz", n_train=12)
    return (tmp_path / "src" / "mnist.npz").read_bytes()


def test_fetch_success_is_verified_and_complete(server, tmp_path):
    base, files = server
    body = _npz_bytes(tmp_path)
    files["/mnist.npz"] = body
    dest = tmp_path / "cache" / "mnist.npz"
    download.fetch(f"{base}/mnist.npz", dest, hashlib.sha256(body).hexdigest(), progress=False)
    assert dest.read_bytes() == body
    assert [p.name for p in dest.parent.iterdir()] == ["mnist.npz"]


def test_loader_downloads_when_nothing_is_local(server, isolated_data, tmp_path, monkeypatch):
    base, files = server
    body = _npz_bytes(tmp_path)
    files["/tf-keras-datasets/mnist.npz"] = body
    monkeypatch.setitem(datasets.MANIFEST, "mnist.npz", {
        "url": f"{base}/tf-keras-datasets/mnist.npz", "sha256": hashlib.sha256(body).hexdigest()})
    ds = datasets.load_mnist()
    assert ds.x_train.shape == (12, 28, 28)
    assert (isolated_data / "mnist.npz").read_bytes() == body
    # second call finds the cached copy: no server needed
    files.clear()
    assert datasets.load_mnist(download=False).x_train.shape == (12, 28, 28)


def test_cifar_tar_download_then_load(server, isolated_data, monkeypatch):
    base, files = server
    body, expected = cifar_tar_bytes()
    files["/cifar-10-python.tar.gz"] = body
    monkeypatch.setitem(datasets.MANIFEST, "cifar-10-python.tar.gz", {
        "url": f"{base}/cifar-10-python.tar.gz", "sha256": hashlib.sha256(body).hexdigest()})
    ds = datasets.load_cifar10()
    np.testing.assert_array_equal(ds.x_test, expected["x_test"])


def test_checksum_mismatch_rejects_file_and_leaves_nothing(server, tmp_path):
    base, files = server
    files["/mnist.npz"] = b"an error page, not the dataset"
    dest = tmp_path / "cache" / "mnist.npz"
    with pytest.raises(ChecksumMismatchError, match="discarded"):
        download.fetch(f"{base}/mnist.npz", dest, "0" * 64, progress=False)
    assert list(dest.parent.iterdir()) == []


def test_loader_checksum_mismatch_propagates(server, isolated_data, monkeypatch):
    base, files = server
    files["/mnist.npz"] = b"tampered"
    monkeypatch.setitem(datasets.MANIFEST, "mnist.npz", {"url": f"{base}/mnist.npz", "sha256": "1" * 64})
    with pytest.raises(ChecksumMismatchError):
        datasets.load_mnist()
    assert list(isolated_data.iterdir()) == []


def test_interrupted_transfer_leaves_no_partial_file(server, tmp_path):
    base, files = server
    body = _npz_bytes(tmp_path)
    files["/truncated/mnist.npz"] = body
    dest = tmp_path / "cache" / "mnist.npz"
    with pytest.raises(DownloadError):
        download.fetch(f"{base}/truncated/mnist.npz", dest, hashlib.sha256(body).hexdigest(),
                       progress=False, timeout=5)
    assert list(dest.parent.iterdir()) == []


def test_server_down_gives_a_clear_error(isolated_data, monkeypatch):
    url = f"http://127.0.0.1:{_free_port()}/mnist.npz"
    monkeypatch.setitem(datasets.MANIFEST, "mnist.npz", {"url": url, "sha256": "2" * 64})
    with pytest.raises(DatasetNotFoundError) as err:
        datasets.load_mnist()
    msg = str(err.value)
    assert "Could not download" in msg and url in msg and "CNNLIB_DATA_DIR" in msg
    assert isinstance(err.value.__cause__, DownloadError)
    assert list(isolated_data.iterdir()) == []


def test_verify_file_md5_and_sha256(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(b"abc")
    download.verify_file(p, hashlib.sha256(b"abc").hexdigest())
    download.verify_file(p, hashlib.md5(b"abc").hexdigest(), "md5")
    with pytest.raises(ChecksumMismatchError, match="md5"):
        download.verify_file(p, "0" * 32, "md5")
