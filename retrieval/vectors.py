"""Where the chunk vectors live: embedded Chroma in the index folder, or a Chroma server.

Both give the same `ClientAPI`, so the rest of the code never knows which one it
has. A server lets several bot processes share one set of vectors; embedded
Chroma must only be opened by one process at a time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import httpx

from retrieval.errors import IndexUnavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChromaServer:
    """A `chroma run` server to use instead of the embedded database."""

    host: str
    port: int = 8000
    ssl: bool = False
    timeout: float = 10.0  # seconds any one request may take

    def __str__(self) -> str:
        return f"{'https' if self.ssl else 'http'}://{self.host}:{self.port}"


def open_chroma(index_dir: Path, server: ChromaServer | None = None):  # noqa: ANN201
    """A Chroma client: the server when one is given, else the database in `index_dir/chroma`."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    settings = ChromaSettings(anonymized_telemetry=False)
    if server is None:
        try:
            return chromadb.PersistentClient(path=str(index_dir / "chroma"), settings=settings)
        except Exception as error:  # chromadb raises assorted errors for a bad folder
            raise IndexUnavailable(
                f"Cannot open the vector database in {index_dir / 'chroma'}: {error}. Check the "
                "folder is writable, or point --index / INDEX_DIR somewhere else."
            ) from error
    try:
        _check_answers(server)  # chromadb's client would wait forever on a stuck server
        client = chromadb.HttpClient(
            host=server.host, port=server.port, ssl=server.ssl, settings=settings
        )
        _limit_wait(client, server.timeout)
    except Exception as error:  # connection refused, DNS, TLS, wrong service, no reply...
        raise IndexUnavailable(
            f"Cannot reach the Chroma server at {server}: {error}. Start it with "
            f"`chroma run --path DATA_DIR --host {server.host} --port {server.port}`, or unset "
            "CHROMA_HOST to use the embedded database."
        ) from error
    return client


def _check_answers(server: ChromaServer) -> None:
    """One heartbeat with a time limit, before chromadb's client (which has none) connects."""
    response = httpx.get(f"{server}/api/v2/heartbeat", timeout=server.timeout)
    response.raise_for_status()


def _limit_wait(client, seconds: float) -> None:  # noqa: ANN001 - chromadb's ClientAPI
    """Give every later request a time limit: chromadb's HTTP session has timeout=None
    and no setting for it, so a server that stops answering would hang the bot."""
    session = getattr(getattr(client, "_server", None), "_session", None)
    if isinstance(session, httpx.Client):
        session.timeout = httpx.Timeout(seconds)
    else:
        log.warning("Cannot limit the Chroma client's wait (chromadb changed its internals)")


def server_fault(error: Exception, server: ChromaServer | None) -> IndexUnavailable | None:
    """The one-line message for a Chroma server that stopped answering, or None."""
    if server is None or not isinstance(error, httpx.TransportError):
        return None
    return IndexUnavailable(
        f"The Chroma server at {server} did not answer ({type(error).__name__}) within "
        f"{server.timeout:g} s. Check that `chroma run` is up and reachable; "
        "CHROMA_TIMEOUT_SECONDS sets how long to wait."
    )
