"""Chinese verbatim analysis: segmentation, theme tagging, aspect sentiment, impact on NPS, discovery.

Theme tagging and sentiment run one Aho–Corasick pass over the raw text (no segmentation), so a million
short comments take seconds; segmentation (jieba / rjieba) is only used for keyword extraction and topic
discovery. See docs/text.md.

>>> from cemkit import load_pack, text
>>> pack = load_pack("auto")
>>> text.tag_themes(["服务很好，但是等待太久"], pack)[["theme", "clause", "polarity"]]  # doctest: +SKIP
"""

from __future__ import annotations

from .discover import discover, write_candidates_yaml
from .evaluate import eval_text_report, evaluate, evaluate_corpus
from .impact import distinctive_words, theme_impact
from .learn import SentimentModel, learn_sentiment, parse_labels
from .model_file import load_sentiment_model
from .segment import tokenize
from .sentiment import polarity_label, sentiment
from .themes import TextAnalysis, analyze, tag_themes

__all__ = [
    "SentimentModel",
    "TextAnalysis",
    "analyze",
    "discover",
    "distinctive_words",
    "eval_text_report",
    "evaluate",
    "evaluate_corpus",
    "learn_sentiment",
    "load_sentiment_model",
    "parse_labels",
    "polarity_label",
    "sentiment",
    "tag_themes",
    "theme_impact",
    "tokenize",
    "write_candidates_yaml",
]
