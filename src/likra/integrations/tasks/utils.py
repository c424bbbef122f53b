"""process_docs helpers for the local-file copies of lm-eval's arc_challenge, hellaswag, winogrande.

Only the data schema is adapted; every prompt field in the YAMLs is lm-eval's own (0.4.13).
"""

import re

import datasets


def process_arc(dataset: datasets.Dataset) -> datasets.Dataset:
    """Raw AI2 ARC rows (question.stem, question.choices[{text,label}], answerKey) -> the HF
    `allenai/ai2_arc` schema that lm-eval's arc task templates read (question, choices.text/label)."""

    def convert(doc):
        choices = doc["question"]["choices"]
        return {
            "id": doc["id"],
            "question": doc["question"]["stem"],
            "choices": {"text": [c["text"] for c in choices], "label": [c["label"] for c in choices]},
            "answerKey": doc["answerKey"],
        }

    return dataset.map(convert, remove_columns=dataset.column_names)


# ---- HellaSwag: a verbatim copy of lm_eval/tasks/hellaswag/utils.py (the file schema is HF's) ----


def preprocess(text):
    text = text.strip()
    # NOTE: Brackets are artifacts of the WikiHow dataset portion of HellaSwag.
    text = text.replace(" [title]", ". ")
    text = re.sub("\\[.*?\\]", "", text)
    text = text.replace("  ", " ")
    return text


def process_hellaswag(dataset: datasets.Dataset) -> datasets.Dataset:
    def _process_doc(doc):
        ctx = doc["ctx_a"] + " " + doc["ctx_b"].capitalize()
        out_doc = {
            "query": preprocess(doc["activity_label"] + ": " + ctx),
            "choices": [preprocess(ending) for ending in doc["endings"]],
            "gold": int(doc["label"]),
        }
        return out_doc

    return dataset.map(_process_doc)


# ---- WinoGrande: a verbatim copy of lm_eval/tasks/winogrande/preprocess_winogrande.py ----


def doc_to_text(doc):
    answer_to_num = {"1": 0, "2": 1}
    return answer_to_num[doc["answer"]]


def doc_to_target(doc):
    idx = doc["sentence"].index("_") + 1
    return doc["sentence"][idx:].strip()


def doc_to_choice(doc):
    idx = doc["sentence"].index("_")
    options = [doc["option1"], doc["option2"]]
    return [doc["sentence"][:idx] + opt for opt in options]
