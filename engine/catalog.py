"""The built-in methods' schemas, registered once. Torch-free (see ``engine.specs``).

Parameters shared by several methods are defined once below so a name means the same
thing everywhere (``lr`` is always the outer/optimizer learning rate, and so on).
"""

from __future__ import annotations

from engine.specs import MethodSpec, Param, register

OPTIMIZER_PARAMS = (
    Param("lr", "float", 3e-5, "Learning rate of the encoder optimizer (AdamW)", low=1e-7, high=1.0, log=True),
    Param("weight_decay", "float", 0.01, "AdamW weight decay", low=0.0, high=1.0),
    Param("warmup_fraction", "float", 0.1, "Share of training spent warming the learning rate up linearly", low=0.0, high=1.0),
    Param("grad_clip", "float", 1.0, "Clip the gradient norm to this value (0 = off)", low=0.0, high=1000.0),
    Param(
        "trainable_layers",
        "int",
        -1,
        "Train only the top N transformer layers (-1 = all, 0 = none: a frozen encoder)",
        low=-1,
        high=1000,
    ),
)

register(
    MethodSpec(
        name="finetune",
        title="Fine-tuning baseline",
        description="Cross-entropy training on meta-train classes; at test time a nearest-class-mean or fitted head per episode",
        impl="engine.methods.finetune:FineTune",
        modes=("episodic", "supervised"),
        family="baseline",
        params=OPTIMIZER_PARAMS
        + (
            Param("batch_size", "int", 32, "Examples per optimizer step", low=1, high=4096),
            Param(
                "test_head",
                "choice",
                "ncm",
                "Episodic test: nearest class mean (ncm) or a logistic-regression head fitted on the support set",
                choices=("ncm", "logreg"),
            ),
            Param("head_steps", "int", 100, "Optimizer steps when fitting a logistic-regression head on a support set", low=1, high=10000),
        ),
    )
)

register(
    MethodSpec(
        name="protonet",
        title="Prototypical networks",
        description="Episodic training of the encoder; classes are the mean embedding of their support examples",
        impl="engine.methods.protonet:ProtoNet",
        family="metric",
        params=OPTIMIZER_PARAMS
        + (
            Param("distance", "choice", "cosine", "Distance between a query and a prototype", choices=("cosine", "euclidean")),
            Param("temperature", "float", 10.0, "Logit scale for cosine distance (higher = sharper)", low=0.01, high=1000.0, log=True),
            Param(
                "train_query",
                "int",
                0,
                "Queries per class in training episodes (0 = task.query); fewer make training faster",
                low=0,
                high=1000,
            ),
        ),
    )
)
