"""Patient text never reaches logs or disk (issue 14, privacy), and each chat server keeps its own files.

A scripted chat against the real `trialfinder chat` tells it a patient description with a phrase no
document holds, then the server's log, the index folder, Chainlit's files folder and the server's temp
folder are searched for that phrase, while the server runs and after it stopped. Saved profiles are
off (the default), so nothing may be found.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.chat_client import ChatClient, fetch_browser_cookie, start_chat_server, stop_chat_server
from trialfinder.settings import PROJECT_ROOT

# Made-up words: found anywhere, they can only have come from this chat.
PHRASE = "Quillbarrow"
PATIENT = [
    f"My sister Odalys {PHRASE} is 38, female, with lupus nephritis class IV and eGFR 52.",
    f"She also takes {PHRASE.lower()}-mab for her {PHRASE} syndrome. Could she join NCT03171194?",
    "She is not pregnant.",
]


def run(coroutine):
    """`coroutine` run in a thread of its own (the browser tests keep a loop running on the main thread)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def holders(folder: Path, phrase: str) -> list[str]:
    """Files under `folder` whose bytes contain `phrase` (any case, UTF-8 or UTF-16)."""
    needles = [phrase.lower().encode(), phrase.lower().encode("utf-16-le")]
    found = []
    for path in (p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes().lower()
        if any(n in data for n in needles):
            found.append(str(path))
    return found


def files_folders(tmp: Path) -> list[Path]:
    return sorted(tmp.glob("trialfinder-chat-files-*"))


def test_a_scripted_chat_leaves_no_patient_text_in_logs_index_files_or_temp(seed_settings, seed_index, tmp_path):
    tmp = tmp_path / "server-tmp"
    tmp.mkdir()
    log = tmp_path / "chat-server.log"
    process, url = start_chat_server(seed_settings.index_dir, log, {"TMPDIR": str(tmp)}, start_seconds=120)
    try:

        async def chat() -> str:
            client = ChatClient(url, cookie=fetch_browser_cookie(url))
            await client.connect()
            said = ""
            for text in PATIENT:
                said += (await client.ask(text)).everything
            await client.close()
            return said

        said = run(chat())
        assert "NCT03171194" in said  # the chat really answered about the trial
        ours = files_folders(tmp)
        assert len(ours) == 1, "the server keeps its files in a folder of its own, in its temp folder"
        assert any(ours[0].rglob("*")), "the cited passages were written as files (Chainlit elements)"
        searched = [tmp, seed_settings.index_dir, PROJECT_ROOT / ".files"]
        while_running = [hit for folder in searched if folder.exists() for hit in holders(folder, PHRASE)]
        assert while_running == []
    finally:
        stop_chat_server(process)
    assert PHRASE.lower() not in log.read_text(errors="replace").lower()
    assert [hit for folder in (tmp, seed_settings.index_dir) for hit in holders(folder, PHRASE)] == []


def test_stopping_one_server_keeps_another_servers_files(seed_settings, seed_index, tmp_path):
    tmp = tmp_path / "shared-tmp"
    tmp.mkdir()
    env = {"TMPDIR": str(tmp)}
    first, first_url = start_chat_server(seed_settings.index_dir, tmp_path / "first.log", env, start_seconds=120)
    try:
        second, second_url = start_chat_server(seed_settings.index_dir, tmp_path / "second.log", env, start_seconds=120)
        try:

            async def ask(url: str) -> None:
                client = ChatClient(url, cookie=fetch_browser_cookie(url))
                await client.connect()
                await client.ask("What are the study groups of NCT03171194?")
                await client.close()

            run(ask(first_url))
            folders = files_folders(tmp)
            assert len(folders) == 2
            kept = [f for f in folders if any(f.rglob("*"))]
            assert len(kept) == 1, "only the first server wrote passages so far"
            files_of_first = sorted(kept[0].rglob("*"))
        finally:
            stop_chat_server(second)
        assert all(path.exists() for path in files_of_first), "stopping the second server deleted the first's files"
    finally:
        stop_chat_server(first)
