"""Starts and stops the mongo-testbed binary on a free local port."""

import socket
import subprocess
import tempfile
import time

from pymongo import MongoClient


def free_port():
    """Asks the OS for a port nobody listens on (tiny race accepted: tests only)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Testbed:
    """A running mongo-testbed process and the URI that reaches it as a replica set."""

    def __init__(self, binary):
        self.port = free_port()
        # A file, not a pipe: a chatty server must never block on a full pipe.
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )
        self.uri = f"mongodb://127.0.0.1:{self.port}/?replicaSet=rs0"
        self._wait_ready()

    def _wait_ready(self, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.log.seek(0)
                err = self.log.read().decode(errors="replace")[-2000:]
                raise RuntimeError(f"mongo-testbed exited early ({self.proc.returncode}): {err}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError(f"mongo-testbed did not listen on port {self.port} in {timeout}s")
        client = MongoClient(self.uri, serverSelectionTimeoutMS=int(timeout * 1000))
        try:
            client.admin.command("ping")
        finally:
            client.close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
