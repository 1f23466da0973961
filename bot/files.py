"""Files the product writes for other processes to read, and the models it trains."""
import os
import tempfile
from pathlib import Path
from typing import Callable, List, Optional


def write_atomically(target: Path, text: str, check: Optional[Callable[[Path], None]] = None) -> None:
    """Write `text` to `target` so that a reader sees the old or the new file, never half of one.

    The text goes to a temporary file next to `target` (named `*.tmp`: outside every `*.yml`
    glob), which `check` may inspect and refuse by raising; only then is it renamed over
    `target`. Refused or failed, `target` is untouched and the temporary file gone."""
    target = Path(target)
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=target.parent, suffix=".tmp", delete=False) as handle:
        handle.write(text)
    try:
        if check is not None:
            check(Path(handle.name))
        os.replace(handle.name, target)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


def trained_models(models_dir: Path) -> List[Path]:
    """The trained models in `models_dir`, oldest first."""
    return sorted(Path(models_dir).glob("*.tar.gz"), key=lambda path: path.stat().st_mtime)


def newest_model(models_dir: Path) -> Optional[Path]:
    models = trained_models(models_dir)
    return models[-1] if models else None
