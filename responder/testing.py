"""Test support shipped with the package: a container image made without any registry.

The test suite and the benchmarks both need a small image on machines that reach no registry;
this builds it from the host's static busybox (Debian package `busybox-static`).
"""

from __future__ import annotations

import io
import shutil
import tarfile

import docker
import docker.errors

__all__ = ["TEST_IMAGE", "busybox_tar", "ensure_test_image"]

TEST_IMAGE = "responder-test/busybox:1"
_APPLETS = ("sh", "sleep", "ls", "cat", "echo", "top", "ps", "touch", "id")


def busybox_tar() -> bytes:
    """A one-binary root filesystem: the host's static busybox, applet links and `/tmp`."""
    busybox = shutil.which("busybox") or "/bin/busybox"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(busybox, arcname="bin/busybox")
        for applet in _APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type = tarfile.SYMTYPE
            link.linkname = "busybox"
            tar.addfile(link)
        tmp = tarfile.TarInfo("tmp")
        tmp.type = tarfile.DIRTYPE
        tmp.mode = 0o1777
        tar.addfile(tmp)
    return buffer.getvalue()


def ensure_test_image(client: docker.DockerClient, image: str = TEST_IMAGE) -> bool:
    """Import the image when the engine lacks it; True when it was imported just now."""
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        repository, tag = image.split(":")
        client.api.import_image_from_data(busybox_tar(), repository=repository, tag=tag)
        return True
    return False
