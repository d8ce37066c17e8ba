"""Build `DocumentInput`s from what the shop has: a loaded file, FAQ pairs or a product.

These are the glue the ingestion service (API upload, Celery job, `siyu kb ingest`, evals) calls
before `retrieval.index.index_documents`: loader output → chunks → one document with its hash.
"""

from __future__ import annotations

from retrieval.cards import ProductLike, product_card
from retrieval.chunking import Chunk, ChunkingConfig, FaqPair, chunk_faq, chunk_text
from retrieval.faq_parse import split_faq
from retrieval.index import DocType, DocumentInput, content_hash
from retrieval.loaders import LoadedDocument
from store.errors import InvalidInput

# In the hash of every document with FAQ entries: entries are embedded by their question since
# version 1, so a re-upload of a file indexed before replaces its chunks instead of keeping them.
FAQ_UNITS_VERSION = "\nfaq-units:1"


def loaded_document(
    shop_id: int,
    doc_id: str,
    loaded: LoadedDocument,
    *,
    doc_type: DocType = "policy",
    version: int = 1,
    chunking: ChunkingConfig | None = None,
) -> DocumentInput:
    """A loaded file as one document; a FAQ CSV is always `doc_type="faq"`."""
    if loaded.format == "faq_csv":
        return faq_document(shop_id, doc_id, loaded.title, loaded.faq, version=version)
    return text_document(
        shop_id, doc_id, loaded.title, loaded.text, doc_type=doc_type, version=version, chunking=chunking
    )


def text_document(
    shop_id: int,
    doc_id: str,
    title: str,
    text: str,
    *,
    doc_type: DocType = "policy",
    version: int = 1,
    chunking: ChunkingConfig | None = None,
) -> DocumentInput:
    chunks = text_chunks(text, chunking)
    if not chunks:
        raise InvalidInput("文档没有可索引的文字", file=doc_id)
    marker = FAQ_UNITS_VERSION if any(c.kind == "faq" for c in chunks) else ""
    digest = content_hash(f"{doc_type}\n{title}\n{text}{marker}")
    return DocumentInput(shop_id, doc_id, doc_type, title, digest, chunks, version=version)


def text_chunks(text: str, chunking: ChunkingConfig | None = None) -> list[Chunk]:
    """A document's FAQ entries as one unit each, then its prose chunked as before."""
    layout = split_faq(text)
    pairs = [FaqPair(e.question, e.answer, e.line, e.section) for e in layout.entries]
    return chunk_faq(pairs) + chunk_text(layout.prose, chunking)


def faq_document(
    shop_id: int, doc_id: str, title: str, pairs: tuple[FaqPair, ...] | list[FaqPair], *, version: int = 1
) -> DocumentInput:
    if not pairs:
        raise InvalidInput("FAQ 没有任何问答", file=doc_id)
    chunks = chunk_faq(pairs)
    sections = "\n".join(p.section for p in pairs)
    digest = content_hash(
        f"faq\n{title}\n" + "\n".join(c.text for c in chunks) + sections + FAQ_UNITS_VERSION
    )
    return DocumentInput(shop_id, doc_id, "faq", title, digest, chunks, version=version)


def product_document(shop_id: int, doc_id: str, product: ProductLike, *, version: int = 1) -> DocumentInput:
    """A product card: one chunk, with its codes, sizes and colours for the exact match."""
    card = product_card(product)
    return DocumentInput(
        shop_id,
        doc_id,
        "product",
        product.title,
        card.content_hash,
        [Chunk(card.text, product.title)],
        version=version,
        sku=product.sku,
        catalog_terms=card.terms,
    )
