"""Background retraining after FAQ edits, and the swap into the running Rasa server.

The web service asks for a retrain when an edit changes what the bot must
understand (a new FAQ, new questions). One retrain runs at a time; edits made
while it runs are picked up by one more run right after. The new model is
loaded with Rasa's `PUT /model`: Rasa finishes loading it before it takes the
next message, so messages wait for the swap instead of being dropped.
"""
import asyncio
import logging
import re
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional

from bot.config import Config
from bot.faq.store import FaqValidationError, write_training_data
from bot.files import newest_model, trained_models
from bot.rasa.client import RasaClient

log = logging.getLogger(__name__)
KEEP_MODELS = 3
_COMPONENT = re.compile(r"Starting to train component '([^']+)'")
_EPOCHS = re.compile(r"Epochs:\s+(\d+)%")
_SAVED = re.compile(r"saved at '([^']+\.tar\.gz)'")


@dataclass
class TrainingStatus:
    state: str = "idle"  # idle, training, loading, done, failed
    step: str = ""
    percent: int = 0  # of the component being trained
    message: str = ""
    started_at: float = 0.0
    train_seconds: float = 0.0
    swap_seconds: float = 0.0
    model: str = ""
    queued: bool = False  # another retrain follows this one
    runs: int = 0

    def as_json(self) -> Dict:
        return asdict(self)


@dataclass
class ModelTrainer:
    config: Config
    rasa: RasaClient
    status: TrainingStatus = field(default_factory=TrainingStatus)
    _task: Optional[asyncio.Task] = None
    _process: Optional[asyncio.subprocess.Process] = None

    def request(self) -> None:
        """Retrain soon; several requests while one run is going make one more run."""
        if self._task is not None and not self._task.done():
            self.status.queued = True
            return
        self.status.queued = False
        self._task = asyncio.create_task(self._run())

    async def wait(self) -> None:
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def close(self) -> None:
        if self._process is not None and self._process.returncode is None:
            self._process.kill()
            await self._process.wait()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            self.status = TrainingStatus(state="training", step="writing training data", started_at=time.time(), runs=self.status.runs + 1)
            try:
                await self._train_and_swap()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # reported on the admin page; the old model stays in service
                log.exception("retraining failed")
                self.status.state, self.status.message = "failed", str(error) or repr(error)
            if not self.status.queued:
                return
            self.status.queued = False

    async def _train_and_swap(self) -> None:
        try:
            write_training_data(self.config.faq_dir, self.config.faq_training_file)
        except FaqValidationError as error:
            raise RuntimeError(str(error)) from error
        started = time.monotonic()
        model = await self._train()
        self.status.train_seconds = round(time.monotonic() - started, 1)
        self.status.state, self.status.step, self.status.model = "loading", "loading the new model into the bot", model
        started = time.monotonic()
        await self.rasa.load_model(model)
        self.status.swap_seconds = round(time.monotonic() - started, 1)
        self.status.state, self.status.step, self.status.percent = "done", "the bot uses the new model", 100
        self._prune_old_models()

    async def _train(self) -> str:
        config = self.config
        command: List[str] = [
            sys.executable, "-m", "rasa", "train", "--num-threads", "2",
            "--data", str(config.data_dir), "--domain", str(config.project_dir / "domain.yml"),
            "--config", str(config.project_dir / "config.yml"), "--out", str(config.models_dir),
        ]
        self._process = await asyncio.create_subprocess_exec(
            *command, cwd=config.project_dir, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        saved_at, tail = "", []
        buffer = b""
        while True:
            chunk = await self._process.stdout.read(4096)
            if not chunk:
                break
            buffer += chunk
            # Progress bars end their lines with "\r", log lines with "\n".
            *lines, buffer = re.split(rb"[\r\n]", buffer)
            for line in (raw.decode("utf-8", "replace") for raw in lines):
                saved_at = self._follow(line) or saved_at
                if line.strip():
                    tail = (tail + [line])[-5:]
        if await self._process.wait() != 0:
            raise RuntimeError("rasa train failed: " + " | ".join(tail))
        return saved_at or str(newest_model(config.models_dir))

    def _follow(self, line: str) -> str:
        """Update the progress from one line of `rasa train` output; the model path once saved."""
        if component := _COMPONENT.search(line):
            self.status.step, self.status.percent = f"training {component.group(1)}", 0
        elif epochs := _EPOCHS.search(line):
            self.status.percent = int(epochs.group(1))
        elif saved := _SAVED.search(line):
            return saved.group(1)
        return ""

    def _prune_old_models(self) -> None:
        for old in trained_models(self.config.models_dir)[:-KEEP_MODELS]:
            old.unlink(missing_ok=True)
