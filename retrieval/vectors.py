"""Where the chunk vectors live: embedded Chroma in the index folder, or a Chroma server.

Both give the same `ClientAPI`, so the rest of the code never knows which one it
has. A server lets several bot processes share one set of vectors; embedded
Chroma must only be opened by one process at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from retrieval.errors import IndexUnavailable


@dataclass(frozen=True)
class ChromaServer:
    """A `chroma run` server to use instead of the embedded database."""

    host: str
    port: int = 8000
    ssl: bool = False

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
        client = chromadb.HttpClient(
            host=server.host, port=server.port, ssl=server.ssl, settings=settings
        )
        client.heartbeat()
    except Exception as error:  # connection refused, DNS, TLS, wrong service...
        raise IndexUnavailable(
            f"Cannot reach the Chroma server at {server}: {error}. Start it with "
            f"`chroma run --path DATA_DIR --host {server.host} --port {server.port}`, or unset "
            "CHROMA_HOST to use the embedded database."
        ) from error
    return client
