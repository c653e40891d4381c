r"""A persona corpus embedded by a frozen model: per behaviour :math:`(g_i, s_i)` and the head.

:func:`embed_corpus` formats each record with the prompt template, embeds it (or reads the
cache: one entry per behaviour file, keyed by :func:`features_key`: model identity, the file's
SHA-256, the template, the response pair and how the statements were batched), and returns an
:class:`EmbeddedCorpus`.

Example (needs the ``[real]`` extra)::

    corpus = load_persona("shared/data/anthropic-evals-persona", behaviors=["narcissism"])
    data = embed_corpus(corpus, resolve_embedder("minilm"))
    data.behaviours[0].g.shape      # torch.Size([1000, 384])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from prefdyn.errors import PrefdynError

from .batching import SCHEME
from .cache import EmbeddingCache, cache_key
from .embedders import AnswerHead, Embedder, Features
from .loader import Behavior, PersonaCorpus, PersonaRecord


@dataclass(frozen=True)
class EmbeddedBehavior:
    r"""``g``: ``[n, d]``; ``sign``: ``[n]`` in :math:`\{\pm 1\}` (+1: :math:`y_1` preferred);
    ``lse_other``: ``[n]`` or ``None`` (see :class:`~.embed.Features`)."""

    name: str
    g: torch.Tensor
    sign: torch.Tensor
    lse_other: torch.Tensor | None


@dataclass(frozen=True)
class EmbeddedCorpus:
    """Embedded behaviours sharing ``responses`` and the reference ``head``."""

    model: str
    template: str
    responses: tuple[str, str]
    head: AnswerHead
    behaviors: tuple[EmbeddedBehavior, ...]
    cache_hits: int = field(default=0, compare=False)

    @property
    def names(self) -> list[str]:
        return [b.name for b in self.behaviors]

    def select(self, names: Sequence[str]) -> EmbeddedCorpus:
        index = {b.name: b for b in self.behaviors}
        missing = [n for n in names if n not in index]
        if missing:
            raise PrefdynError(f"behaviours: unknown behaviour {missing[0]!r}")
        return EmbeddedCorpus(
            self.model, self.template, self.responses, self.head, tuple(index[n] for n in names), self.cache_hits
        )


#: longest prompt template accepted
MAX_TEMPLATE = 10_000


def check_template(template: str) -> str:
    """``template`` if it uses only the plain fields ``{question}`` and ``{statement}`` (no
    format spec, conversion, attribute or index: ``{question:>3000000000}`` would allocate
    gigabytes, ``{question.__class__}`` reaches objects); else a :class:`PrefdynError`."""
    import string

    if not isinstance(template, str) or len(template) > MAX_TEMPLATE:
        raise PrefdynError(f"template: must be a string of at most {MAX_TEMPLATE} characters")
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as err:
        raise PrefdynError(
            f"template: {template[:80]!r} is not a valid prompt template ({err}); "
            "use the fields {question} and {statement}"
        ) from None
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in ("question", "statement") or spec or conversion:
            shown = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec[:20]}" if spec else "") + "}"
            raise PrefdynError(
                f"template: field {shown[:60]!r} is not allowed; use the plain fields "
                "{question} and {statement} (write a literal brace as {{ or }})"
            )
    return template


def format_prompt(template: str, record: PersonaRecord) -> str:
    """``template`` with ``{question}`` / ``{statement}`` filled in."""
    check_template(template)
    try:
        return template.format(**record.fields())
    except (KeyError, IndexError, ValueError) as err:
        raise PrefdynError(
            f"template: {template!r} is not a valid prompt template ({err}); "
            "use the fields {question} and {statement}"
        ) from err


def features_key(identity: str, digest: str, template: str, responses: tuple[str, str], batch_size: int) -> str:
    """The cache key of one behaviour's features.

    Parameters
    ----------
    identity : str
        The model's :attr:`~.embedders.Embedder.identity`.
    digest : str
        The behaviour file's SHA-256.
    template : str
        The prompt template.
    responses : tuple of str
        The answer pair (in either order: the features do not depend on it).
    batch_size : int
        Statements per batch: with the batching scheme (:data:`~.batching.SCHEME`) it fixes which
        statements share a batch, hence the features' last bits.

    Returns
    -------
    str
        A SHA-256 hex digest (:func:`~.cache.cache_key`).

    Examples
    --------
    >>> parts = ("model", "sha256", "{question}", ("Yes", "No"))
    >>> features_key(*parts, batch_size=64) != features_key(*parts, batch_size=32)
    True
    """
    return cache_key(
        kind="features",
        model=identity,
        file=digest,
        template=template,
        responses=_canonical(responses),
        batching=SCHEME,
        batch_size=batch_size,
    )


def _embed_behavior(
    behavior: Behavior,
    embedder: Embedder,
    template: str,
    responses: tuple[str, str],
    cache: EmbeddingCache | None,
    batch_size: int,
) -> tuple[EmbeddedBehavior, bool]:
    key = features_key(embedder.identity, behavior.digest, template, responses, batch_size)
    stored = cache.get(key) if cache is not None else None
    hit = stored is not None
    if stored is None:
        texts = [format_prompt(template, r) for r in behavior.records]
        feats = embedder.features(texts, responses, batch_size=batch_size)
        stored = {"g": feats.g}
        if feats.lse_other is not None:
            stored["lse_other"] = feats.lse_other
        if cache is not None:
            cache.put(key, stored)
    features = Features(stored["g"], stored.get("lse_other"))
    if features.g.shape[0] != len(behavior.records):
        raise PrefdynError(
            f"cache: entry for {behavior.path} has {features.g.shape[0]} rows, "
            f"expected {len(behavior.records)}; delete {key}.pt"
        )
    sign = torch.tensor(behavior.signs, dtype=torch.float32)
    return EmbeddedBehavior(behavior.name, features.g, sign, features.lse_other), hit


def _canonical(responses: tuple[str, str]) -> list[str]:
    """The pair in a fixed order: features do not depend on which response is first, so a
    subset whose first line happens to prefer the other answer still hits the cache."""
    return sorted(responses, reverse=True)


def _head(embedder: Embedder, responses: tuple[str, str], cache: EmbeddingCache | None) -> AnswerHead:
    canonical = _canonical(responses)
    key = cache_key(kind="head", model=embedder.identity, responses=canonical)
    stored = cache.get(key) if cache is not None else None
    if stored is None:
        head = embedder.head((canonical[0], canonical[1]))
        stored = {"rows": head.rows, "vocab_size": torch.tensor(head.vocab_size)}
        if head.token_ids is not None:
            stored["token_ids"] = torch.tensor(head.token_ids)
        if cache is not None:
            cache.put(key, stored)
    order = [0, 1] if list(responses) == canonical else [1, 0]
    ids = stored.get("token_ids")
    return AnswerHead(
        stored["rows"][order],
        int(stored["vocab_size"]),
        None if ids is None else (int(ids[order[0]]), int(ids[order[1]])),
    )


def embed_corpus(
    corpus: PersonaCorpus,
    embedder: Embedder,
    *,
    template: str | None = None,
    cache: EmbeddingCache | None = None,
    use_cache: bool = True,
    batch_size: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> EmbeddedCorpus:
    """Embed every behaviour of ``corpus`` (cached on disk unless ``use_cache`` is false) in
    batches of ``batch_size`` statements (default: chosen by memory,
    :meth:`~.embedders.Embedder.batch_size`; part of the cache key, as the values depend on the
    batches); ``progress(name)`` is called after each behaviour."""
    template = check_template(template or embedder.default_template)
    if batch_size is None:
        batch_size = embedder.batch_size()
    store = (cache or EmbeddingCache()) if use_cache else None
    results = []
    for b in corpus.behaviors:
        results.append(_embed_behavior(b, embedder, template, corpus.responses, store, batch_size))
        if progress is not None:
            progress(b.name)
    head = _head(embedder, corpus.responses, store)
    return EmbeddedCorpus(
        embedder.identity,
        template,
        corpus.responses,
        head,
        tuple(b for b, _ in results),
        sum(hit for _, hit in results),
    )
