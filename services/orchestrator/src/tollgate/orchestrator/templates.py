"""Task templates: versioned system prompts with `{{variable}}` placeholders.

Each file in the templates directory is named `<task>@<version>.txt` (e.g. `chat@2.txt`); the
highest version of a task is the one used, and the result reports it (`template_version`
"chat@2"), so an answer can always be traced to the exact prompt that produced it. Every
placeholder must be given a value and no unknown variable is accepted: a typo is refused with
INVALID_ARGUMENT instead of silently producing a worse prompt.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from tollgate.common.errors import invalid_argument

_FILE_NAME = re.compile(r"^(?P<task>[a-z_]+)@(?P<version>[0-9]+)\.txt$")
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}")


@dataclass(frozen=True)
class Template:
    task: str
    version: int
    text: str

    @property
    def label(self) -> str:
        return f"{self.task}@{self.version}"

    @property
    def variables(self) -> frozenset[str]:
        return frozenset(_PLACEHOLDER.findall(self.text))

    def render(self, values: Mapping[str, str]) -> str:
        missing = sorted(self.variables - set(values))
        if missing:
            raise invalid_argument(
                f"The {self.task} template needs the variable(s) {', '.join(missing)}.",
                f"spec.template_variables.{missing[0]}",
            )
        unknown = sorted(set(values) - self.variables)
        if unknown:
            raise invalid_argument(
                f"The {self.task} template has no variable(s) {', '.join(unknown)}; "
                f"it takes {', '.join(sorted(self.variables)) or 'none'}.",
                f"spec.template_variables.{unknown[0]}",
            )
        return _PLACEHOLDER.sub(lambda match: values[match.group(1)], self.text).strip()


class TemplateLibrary:
    def __init__(self, templates: Mapping[str, Template]) -> None:
        self._templates = dict(templates)

    @classmethod
    def load(cls, directory: str | None = None) -> TemplateLibrary:
        """The newest version of each task's template; without a directory, the shipped ones."""
        root = (
            Path(directory)
            if directory
            else Path(str(resources.files("tollgate.orchestrator"))) / "templates"
        )
        latest: dict[str, Template] = {}
        for path in sorted(root.iterdir()):
            match = _FILE_NAME.match(path.name)
            if match is None:
                continue
            template = Template(match["task"], int(match["version"]), path.read_text())
            current = latest.get(template.task)
            if current is None or template.version > current.version:
                latest[template.task] = template
        return cls(latest)

    def versions(self) -> dict[str, str]:
        """Each task's template version, as results name it (`chat@2`)."""
        return {task: template.label for task, template in self._templates.items()}

    def for_task(self, task: str) -> Template:
        template = self._templates.get(task)
        if template is None:
            raise invalid_argument(
                f"There is no template for the task {task!r}.", "spec.context.task"
            )
        return template
