"""Settings dialog generated from the settings model: every field of every section, validated
by the same pydantic model as the settings file and the CLI (bad values show the reason)."""

from __future__ import annotations

import json

from PyQt6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from drowsy.errors import UserError
from drowsy.settings import Settings, apply_overrides, save_settings

UNITS = {"_s": "s", "_deg": "degrees", "_px": "px"}


def human_name(name: str) -> str:
    """``microsleep_s`` -> ``microsleep (s)``; ``yaw_limit_deg`` -> ``yaw limit (degrees)``."""
    for suffix, unit in UNITS.items():
        if name.endswith(suffix):
            return f"{name[: -len(suffix)].replace('_', ' ')} ({unit})"
    return name.replace("_", " ")


def value_range(info) -> str:
    """The field's bounds from the settings model, as "range: > 0, <= 1"."""
    signs = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}
    parts = [
        f"{sign} {getattr(m, attr):g}"
        for m in info.metadata
        for attr, sign in signs.items()
        if getattr(m, attr, None) is not None
    ]
    return "range: " + ", ".join(parts) if parts else ""


class SettingsDialog(QDialog):
    """Edits the settings with units, ranges and help; validates all edits together on save."""

    def __init__(self, settings: Settings, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("drowsy settings")
        self.settings = settings
        self.fields: dict[str, QLineEdit] = {}
        tabs = QTabWidget()
        for section, values in settings.model_dump().items():
            form = QFormLayout()
            model = getattr(settings, section)
            for name, value in values.items():
                edit = QLineEdit(json.dumps(value) if not isinstance(value, str) else value)
                info = type(model).model_fields[name]
                label = QLabel(human_name(name))
                label.setToolTip(f"{section}.{name}")
                limits = value_range(info)
                if info.description or limits:
                    text = "; ".join(t for t in (info.description, limits) if t)
                    edit.setToolTip(text)
                    help_text = QLabel(text)
                    help_text.setWordWrap(True)
                    help_text.setStyleSheet("color:#666; font-size:11px;")
                    box = QVBoxLayout()
                    box.setSpacing(1)
                    box.addWidget(edit)
                    box.addWidget(help_text)
                    form.addRow(label, box)
                else:
                    form.addRow(label, edit)
                self.fields[f"{section}.{name}"] = edit
            page = QWidget()
            page.setLayout(form)
            scroll = QScrollArea()
            scroll.setWidget(page)
            scroll.setWidgetResizable(True)
            tabs.addTab(scroll, section)
        self.error = QLabel("")
        self.error.setStyleSheet("color:#c62828;")
        self.error.setWordWrap(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(tabs)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.resize(560, 520)

    def validated(self) -> Settings:
        """The edited settings, or UserError naming the first bad field and why."""
        current = self.settings.model_dump()
        changes = []
        for key, edit in self.fields.items():
            section, name = key.split(".")
            before = current[section][name]
            text = edit.text().strip()
            shown = json.dumps(before) if not isinstance(before, str) else before
            if text != shown:
                changes.append(f"{key}={text}")
        return apply_overrides(self.settings, changes)

    def save(self, path=None) -> None:
        try:
            self.settings = self.validated()
            save_settings(self.settings, path)  # a read-only location is said, not a crash
        except UserError as exc:
            self.error.setText(str(exc))
            return
        self.accept()
