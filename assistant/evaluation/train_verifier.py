"""Train the answer verifier: a cross-encoder saying whether a sentence answers a question.

Initialised from the bundled MiniLM (its encoder; the one-logit head starts from the seed) and
trained on public data only, with a fixed seed, in a fixed number of steps:

- SQuAD 2.0 dev, the answer model's training articles (the same split by article:
  `split_names`); held-out articles are never read here. An answerable question's positives are
  the sentences of its paragraph that hold a gold answer, its negatives the other sentences of the
  paragraph that share most of its words (hard negatives). An adversarial unanswerable question
  (written to look answerable from its paragraph) gets the paragraph's sentences that share most
  of its words: the ones a lexical or learned selector ranks high, all negatives.
- SciFact train claims with their evidence sentences as positives and the rest of the abstract
  (most overlapping first) as negatives.

Each input is (question, candidate [SEP] previous sentence ... next sentence): the candidate comes
first so truncation only cuts context, and its place marks it. The loss is a softmax over each
question's group (positive first) plus a per-pair logistic loss, so the logit both ranks and
separates "answers" from "about the topic". Checkpoints every few minutes; a rerun resumes.

    python -m assistant.evaluation.train_verifier --out eval/generated/verifier
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.evaluation.converters import slugify
from assistant.evaluation.metrics import answer_is_correct
from assistant.ingest.sentences import split_sentences
from assistant.store.lexical import content_terms

log = logging.getLogger(__name__)

SEED = 13
TRAIN_ARTICLES = 20
MAX_LENGTH = 80
GROUP = 3  # one positive and two negatives (or three negatives for an unanswerable question)
#: the embeddings and this many lower layers stay as MiniLM has them (CPU training budget)
FROZEN_LAYERS = 2


@dataclass(slots=True)
class Group:
    """One question's pairs; `labels[i]` is 1.0 when text i answers it."""

    question: str
    texts: list[str]
    labels: list[float]


def split_names(names: Sequence[str], train_articles: int, seed: int) -> tuple[list[str], list[str]]:
    """The answer model's split of article names (assistant/evaluation/answer_data.split_articles)."""
    articles = sorted(set(names))
    random.Random(seed).shuffle(articles)
    return sorted(articles[:train_articles]), sorted(articles[train_articles:])


def sentences_of(text: str) -> list[str]:
    return [text[s.start : s.end] for s in split_sentences(text)]


def candidate_text(sentences: Sequence[str], i: int) -> str:
    """The candidate, then its neighbours as context (the verifier's second segment)."""
    before = sentences[i - 1] if i > 0 else ""
    after = sentences[i + 1] if i + 1 < len(sentences) else ""
    return f"{sentences[i]} [SEP] {before} ... {after}".strip()


def overlap_order(question: str, sentences: Sequence[str]) -> list[int]:
    """Sentence indices, most question words shared first (ties by position)."""
    terms = set(content_terms(question))
    shared = [len(terms & set(content_terms(s))) for s in sentences]
    return sorted(range(len(sentences)), key=lambda i: (-shared[i], i))


def squad_groups(squad_dir: Path, articles: set[str]) -> list[Group]:
    passages = {}
    for line in (squad_dir / "passages.jsonl").read_text(encoding="utf-8").splitlines():
        p = json.loads(line)
        if slugify(p["title"]) in articles:
            passages[p["passage_id"]] = sentences_of(p["text"])
    groups: list[Group] = []
    for line in (squad_dir / "questions.jsonl").read_text(encoding="utf-8").splitlines():
        q = json.loads(line)
        sentences = passages.get(q["passage_id"])
        if not sentences or len(sentences) < 2:
            continue
        order = overlap_order(q["question"], sentences)
        if q["is_impossible"]:
            picked = order[:GROUP]
            groups.append(
                Group(q["question"], [candidate_text(sentences, i) for i in picked], [0.0] * len(picked))
            )
            continue
        holds = [i for i in range(len(sentences)) if answer_is_correct(sentences[i], q["answers"])]
        if not holds:
            continue
        negatives = [i for i in order if i not in holds][: GROUP - 1]
        if not negatives:
            continue
        positive = next(i for i in order if i in holds)  # the holder sharing most words
        picked = [positive, *negatives]
        groups.append(
            Group(
                q["question"], [candidate_text(sentences, i) for i in picked], [1.0] + [0.0] * len(negatives)
            )
        )
    return groups


def scifact_groups(scifact_dir: Path) -> list[Group]:
    corpus = {}
    for line in (scifact_dir / "corpus.jsonl").read_text(encoding="utf-8").splitlines():
        doc = json.loads(line)
        corpus[str(doc["doc_id"])] = doc["abstract"]
    groups: list[Group] = []
    for line in (scifact_dir / "claims_train.jsonl").read_text(encoding="utf-8").splitlines():
        claim = json.loads(line)
        for doc_id, sets in claim["evidence"].items():
            sentences = corpus.get(str(doc_id))
            if not sentences or len(sentences) < 2:
                continue
            evidence = sorted({i for s in sets for i in s["sentences"] if i < len(sentences)})
            if not evidence:
                continue
            order = [i for i in overlap_order(claim["claim"], sentences) if i not in evidence]
            negatives = order[: GROUP - 1]
            if not negatives:
                continue
            picked = [evidence[0], *negatives]
            groups.append(
                Group(
                    claim["claim"],
                    [candidate_text(sentences, i) for i in picked],
                    [1.0] + [0.0] * len(negatives),
                )
            )
    return groups


def training_groups(datasets: Path, seed: int, train_articles: int) -> list[Group]:
    squad_dir = datasets / "squad-v2.0-dev"
    titles = [
        slugify(json.loads(line)["title"])
        for line in (squad_dir / "passages.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    train, _ = split_names(titles, train_articles, seed)
    groups = squad_groups(squad_dir, set(train)) + scifact_groups(datasets / "scifact")
    log.info("%d training groups (%d pairs)", len(groups), sum(len(g.texts) for g in groups))
    return groups


def train(args: argparse.Namespace) -> None:
    import numpy as np
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from assistant.settings import BUNDLED_MODEL, resolve_model_path

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    groups = training_groups(args.datasets, args.seed, args.train_articles)
    path = resolve_model_path(BUNDLED_MODEL)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1)
    for parameter in model.bert.embeddings.parameters():
        parameter.requires_grad = False
    for layer in model.bert.encoder.layer[: args.frozen_layers]:
        for parameter in layer.parameters():
            parameter.requires_grad = False
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=args.lr, weight_decay=0.01)
    total = args.steps
    warmup = max(1, total // 10)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / max(1, total - warmup)))
    )
    checkpoint = out / "checkpoint.pt"
    step = 0
    if checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step = int(state["step"])
        log.info("resumed at step %d", step)
    per_epoch = math.ceil(len(groups) / args.groups_per_step)

    def batch_at(s: int) -> list[Group]:
        epoch, k = divmod(s, per_epoch)
        order = np.random.RandomState(args.seed + epoch).permutation(len(groups))
        return [groups[int(i)] for i in order[k * args.groups_per_step : (k + 1) * args.groups_per_step]]

    model.train()
    started = saved = time.monotonic()
    running = 0.0
    while step < total:
        batch = batch_at(step)
        questions = [g.question for g in batch for _ in g.texts]
        texts = [t for g in batch for t in g.texts]
        labels = torch.tensor([y for g in batch for y in g.labels])
        encoded = tokenizer(
            questions,
            texts,
            truncation="only_second",
            max_length=args.max_length,
            padding=True,
            return_tensors="pt",
        )
        logits = model(**encoded).logits.squeeze(-1)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels)
        listwise = []
        start = 0
        for g in batch:
            span = logits[start : start + len(g.texts)]
            if g.labels[0] == 1.0:
                listwise.append(
                    torch.nn.functional.cross_entropy(span[None], torch.zeros(1, dtype=torch.long))
                )
            start += len(g.texts)
        if listwise:
            loss = loss + torch.stack(listwise).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        step += 1
        value = float(loss.detach())
        running = 0.9 * running + 0.1 * value if step > 1 else value
        if step % 5 == 0:
            rate = step / max(time.monotonic() - started, 1e-9)
            log.info("step %d/%d loss %.4f (%.2f steps/s)", step, total, running, rate)
        if time.monotonic() - saved > args.checkpoint_seconds or step == total:
            torch.save(
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "step": step,
                },
                out / "checkpoint.tmp",
            )
            (out / "checkpoint.tmp").replace(checkpoint)
            saved = time.monotonic()
            log.info("checkpoint at step %d", step)
    model.save_pretrained(out / "model")
    tokenizer.save_pretrained(out / "model")
    (out / "model" / "training.json").write_text(json.dumps(_card(args, groups)), encoding="utf-8")
    log.info("saved %s", out / "model")


def _card(args: argparse.Namespace, groups: Sequence[Group]) -> dict[str, Any]:
    return {
        "seed": args.seed,
        "train_articles": args.train_articles,
        "steps": args.steps,
        "groups_per_step": args.groups_per_step,
        "lr": args.lr,
        "max_length": args.max_length,
        "frozen_layers": args.frozen_layers,
        "groups": len(groups),
        "pairs": sum(len(g.texts) for g in groups),
    }


def export(args: argparse.Namespace) -> None:
    """The trained weights (final model, else the last checkpoint) as int8 ONNX for the product."""
    import numpy as np
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from assistant.compose.verifier import MODEL_FILE
    from assistant.settings import BUNDLED_MODEL, resolve_model_path

    torch.set_num_threads(args.threads)
    path = resolve_model_path(BUNDLED_MODEL)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1)
    final = args.out / "model"
    if (final / "config.json").exists():
        model = AutoModelForSequenceClassification.from_pretrained(final)
    else:
        model.load_state_dict(torch.load(args.out / "checkpoint.pt", weights_only=False)["model"])
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(path)

    class Logit(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = model

        def forward(self, ids: torch.Tensor, mask: torch.Tensor, types: torch.Tensor) -> torch.Tensor:
            return self.inner(input_ids=ids, attention_mask=mask, token_type_ids=types).logits[:, 0]

    target: Path = args.export
    target.mkdir(parents=True, exist_ok=True)
    fp32 = args.out / "verifier.fp32.onnx"
    probe = tokenizer(
        ["In what country is Normandy located?", "Who?"],
        ["Normandy is a region in France. [SEP] ... ", "x"],
        padding=True,
        return_tensors="pt",
    )
    inputs = (probe["input_ids"], probe["attention_mask"], probe["token_type_ids"])
    with torch.no_grad():
        torch.onnx.export(
            Logit().eval(),
            inputs,
            str(fp32),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["logit"],
            dynamic_axes={
                n: {0: "batch", 1: "tokens"} for n in ("input_ids", "attention_mask", "token_type_ids")
            }
            | {"logit": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
        expected = Logit().eval()(*inputs).numpy()
    # the word embeddings (Gather) are quantised too: they are half of MiniLM's weights
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # it logs a line per tensor on the root logger
    quantize_dynamic(
        str(fp32),
        str(target / MODEL_FILE),
        per_channel=True,
        weight_type=QuantType.QInt8,
        op_types_to_quantize=["MatMul", "Gather"],
        extra_options={"MatMulConstBOnly": True},
    )
    root.setLevel(level)
    fp32.unlink()
    import onnxruntime as ort

    session = ort.InferenceSession(str(target / MODEL_FILE), providers=["CPUExecutionProvider"])
    (got,) = session.run(
        None,
        {
            k: v.numpy()
            for k, v in zip(("input_ids", "attention_mask", "token_type_ids"), inputs, strict=True)
        },
    )
    log.info(
        "exported %s (%d bytes); probe logits torch %s onnx int8 %s",
        target / MODEL_FILE,
        (target / MODEL_FILE).stat().st_size,
        np.round(expected, 3).tolist(),
        np.round(got, 3).tolist(),
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--out", type=Path, default=Path("eval/generated/verifier"))
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--train-articles", type=int, default=TRAIN_ARTICLES)
    parser.add_argument("--steps", type=int, default=900)
    parser.add_argument("--groups-per-step", type=int, default=8)
    parser.add_argument("--lr", type=float, default=4e-5)
    parser.add_argument("--max-length", type=int, default=MAX_LENGTH)
    parser.add_argument("--frozen-layers", type=int, default=FROZEN_LAYERS)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--checkpoint-seconds", type=float, default=240.0)
    parser.add_argument("--count-only", action="store_true", help="Print the data's size and stop.")
    parser.add_argument(
        "--export", type=Path, default=None, help="Export the trained model as int8 ONNX here."
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.count_only:
        groups = training_groups(args.datasets, args.seed, args.train_articles)
        print(json.dumps({"groups": len(groups), "pairs": sum(len(g.texts) for g in groups)}))
        return
    if args.export is not None:
        export(args)
        return
    train(args)


if __name__ == "__main__":
    main()
