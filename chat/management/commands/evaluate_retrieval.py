import json as _json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from chat import evaluation


class Command(BaseCommand):
    help = (
        "Measure retrieval on a BEIR-format collection in DIR (corpus.jsonl, queries.jsonl, qrels.tsv): its "
        "documents go in through the normal ingestion path as a throw-away owner's, every judged query runs "
        "through the product's retrieval, and nothing is left behind. Prints ndcg_at_10, recall_at_100, "
        "mrr_at_10, queries, documents (--json: one JSON object)."
    )

    def add_arguments(self, parser):
        parser.add_argument("dir")
        parser.add_argument("--mode", choices=["hybrid", "fts", "vector"], default="hybrid")
        parser.add_argument("--json", action="store_true")

    def handle(self, dir, mode, json, **options):
        bars = {}

        def progress(stage: str, n: int) -> None:
            if stage not in bars:
                bars[stage] = tqdm(desc=stage, unit=" items", disable=not sys.stderr.isatty(), file=sys.stderr)
            bars[stage].update(n)

        try:
            result = evaluation.evaluate(Path(dir), mode=mode, progress=progress)
        except evaluation.CollectionError as error:
            raise CommandError(str(error)) from None
        finally:
            for bar in bars.values():
                bar.close()
        if json:
            self.stdout.write(_json.dumps(result))
        else:
            self.stdout.write(
                f"{mode}: nDCG@10 {result['ndcg_at_10']}, recall@100 {result['recall_at_100']}, "
                f"MRR@10 {result['mrr_at_10']} over {result['queries']} queries, {result['documents']} documents"
            )
