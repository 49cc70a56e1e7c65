"""Chainlit's own configuration file agrees with the settings' secure defaults."""

from __future__ import annotations

import tomllib

from trialfinder.settings import PROJECT_ROOT, Settings


def test_chainlit_config_allows_only_the_chats_own_origin_like_the_settings_default():
    config = tomllib.loads((PROJECT_ROOT / ".chainlit" / "config.toml").read_text())
    assert config["project"]["allow_origins"] == Settings.model_fields["allowed_origins"].default == []
    assert config["features"]["unsafe_allow_html"] is False
