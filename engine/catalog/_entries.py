"""The built-in methods' schemas, registered once. Torch-free (see ``engine.catalog``).

A default is written here and only here: methods read their parameters through the typed
object ``MethodSpec.bind`` builds from these schemas. ``tasks`` lists the task types a
method serves (``engine.tasks``).

Parameters shared by several methods are defined once below so a name means the same
thing everywhere (``lr`` is always the outer/optimizer learning rate, and so on).
"""

from __future__ import annotations

from dataclasses import replace

from engine.catalog._types import MethodSpec, Param, register

BOTH_TASKS = ("classification", "token_classification")
# Methods that also adapt a causal LM to a domain (``language_modeling``): those whose
# learning is a loss on items through a head, not a distance to prototypes.
WITH_LM = (*BOTH_TASKS, "language_modeling")

# Form sections (``Param.group``), in the order a form shows them.
OPTIMIZER = "Optimizer"
INNER = "Inner loop"
SCOPE_GROUP = "Adaptation scope"
HEAD = "Head"
EPISODES = "Episodes"
TEST_HEAD = "Test head"
SPEED = "Speed and memory"

OPTIMIZER_PARAMS = (
    Param("lr", "float", 3e-5, "Learning rate of the encoder optimizer (AdamW)", low=1e-7, high=1.0, log=True,
          label="Learning rate", group=OPTIMIZER),
    Param("weight_decay", "float", 0.01, "AdamW weight decay", low=0.0, high=1.0, group=OPTIMIZER),
    Param("warmup_fraction", "float", 0.1, "Share of training spent warming the learning rate up linearly", low=0.0, high=1.0,
          label="Warm-up fraction", group=OPTIMIZER),
    Param("grad_clip", "float", 1.0, "Clip the gradient norm to this value (0 = off)", low=0.0, high=1000.0,
          label="Gradient clipping", group=OPTIMIZER),
    Param(
        "trainable_layers",
        "int",
        -1,
        "Train only the top N transformer layers (-1 = all, 0 = none: a frozen encoder)",
        low=-1,
        high=1000,
        label="Trainable layers",
        group=OPTIMIZER,
    ),
)

# How the model computes, for every method that trains it. "auto" is decided in one place,
# ``speed_switch``: on for a decoder on CUDA (big models need the memory), off otherwise.
AUTO_ON_OFF = ("auto", "on", "off")


def speed_switch(value: object, *, model_kind: str, device_type: str) -> bool:
    """Whether a ``bf16`` / ``gradient_checkpointing`` switch is on for this model and
    device (engine.training.precision applies it; the memory estimate reads it too). A
    bool from an older config counts as on/off."""
    if isinstance(value, bool):
        return value
    if value in (None, "auto"):
        return model_kind == "decoder" and device_type == "cuda"
    return value == "on"


SPEED_PARAMS = (
    Param("bf16", "choice", "auto", "bf16 autocast of the model's forward pass: auto = on for a decoder on a CUDA device "
          "that supports bf16; never on CPU", choices=AUTO_ON_OFF, label="bf16 autocast", group=SPEED),
    Param("gradient_checkpointing", "choice", "auto", "Recompute activations in backward (less memory, more time): "
          "auto = on for a decoder on CUDA", choices=AUTO_ON_OFF, label="Gradient checkpointing", group=SPEED),
)

register(
    MethodSpec(
        name="finetune",
        title="Fine-tuning baseline",
        description="Cross-entropy training on meta-train classes; at test time a nearest-class-mean or fitted head per episode",
        impl="engine.methods.finetune:FineTune",
        modes=("episodic", "supervised"),
        tasks=WITH_LM,
        family="baseline",
        params=OPTIMIZER_PARAMS
        + (
            Param("batch_size", "int", 32, "Examples per optimizer step", low=1, high=4096, group=OPTIMIZER),
            Param(
                "test_head",
                "choice",
                "ncm",
                "Episodic test: nearest class mean (ncm) or a logistic-regression head fitted on the support set",
                choices=("ncm", "logreg"),
                label="Test head",
                group=TEST_HEAD,
            ),
            Param("head_steps", "int", 100, "Optimizer steps when fitting a logistic-regression head on a support set", low=1, high=10000,
                  label="Head fitting steps", group=TEST_HEAD, when=("test_head", ("logreg",))),
            *SPEED_PARAMS,
        ),
    )
)

METRIC_PARAMS = OPTIMIZER_PARAMS + (
    Param("distance", "choice", "cosine", "Distance between a query and a prototype", choices=("cosine", "euclidean"),
          group=HEAD),
    Param("temperature", "float", 10.0, "Logit scale for cosine distance (higher = sharper)", low=0.01, high=1000.0, log=True,
          group=HEAD, when=("distance", ("cosine",))),
    Param(
        "train_query",
        "int",
        0,
        "Queries per class in training episodes (0 = task.query); fewer make training faster",
        low=0,
        high=1000,
        label="Training queries per class",
        group=EPISODES,
    ),
)

register(
    MethodSpec(
        name="protonet",
        title="Prototypical networks",
        description="Episodic training of the encoder; classes (entity types and O for NER) are the mean embedding of their support items",
        impl="engine.methods.protonet:ProtoNet",
        tasks=BOTH_TASKS,
        family="metric",
        params=METRIC_PARAMS,
    )
)

register(
    MethodSpec(
        name="nnshot",
        title="NNShot",
        description="Episodic training of the encoder; a query item takes the class of its nearest support item (token)",
        impl="engine.methods.nnshot:NNShot",
        tasks=BOTH_TASKS,
        family="metric",
        params=METRIC_PARAMS,
    )
)

# --- the gradient-based family (MAML, first-order MAML, ANIL, Meta-SGD, Reptile) -------------
# One tuple of parameters, shared; each method takes the ones that mean something for it.
# ``lr`` is the outer (meta) learning rate, as for every other method.

def _with_defaults(params: tuple[Param, ...], **defaults: object) -> tuple[Param, ...]:
    return tuple(replace(p, default=defaults[p.name]) if p.name in defaults else p for p in params)


SCOPE = Param(
    "scope",
    "choice",
    "lora",
    "What the inner loop adapts besides the head: nothing (head), the top_k transformer layers, "
    "LoRA adapters (the base weights never move) or all weights",
    choices=("head", "top_k_layers", "lora", "all"),
    label="Adapted weights",
    group=SCOPE_GROUP,
)
GRADIENT_PARAMS = _with_defaults(OPTIMIZER_PARAMS, lr=1e-4, weight_decay=0.0) + (
    Param("inner_lr", "float", 1e-2, "Inner-loop SGD step size for adapted encoder or adapter weights", low=1e-7, high=10.0, log=True,
          label="Inner learning rate (encoder)", group=INNER, when=("scope", ("top_k_layers", "lora", "all"))),
    Param("head_inner_lr", "float", 0.5, "Inner-loop SGD step size for the linear head", low=1e-5, high=100.0, log=True,
          label="Inner learning rate (head)", group=INNER),
    Param("inner_steps", "int", 1, "Inner-loop steps per task in meta-training", low=0, high=100,
          label="Inner steps (training)", group=INNER),
    Param("inner_steps_test", "int", 3, "Inner-loop steps on each support set at validation and meta-test", low=0, high=1000,
          label="Inner steps (validation, test)", group=INNER),
    Param("meta_batch_size", "int", 2, "Tasks (episodes) per outer step; train.episodes counts outer steps", low=1, high=256,
          label="Meta-batch size", group=EPISODES),
    Param("first_order", "bool", False, "Drop the second-order term of the meta-gradient (cheaper, no eager attention needed)",
          label="First-order meta-gradient", group=INNER),
    SCOPE,
    Param("top_k", "int", 1, "Transformer layers adapted when scope = top_k_layers (from the top)", low=1, high=1000,
          label="Top layers adapted", group=SCOPE_GROUP, when=("scope", ("top_k_layers",))),
    Param("lora_rank", "int", 8, "Rank of the LoRA adapters (scope = lora)", low=1, high=1024,
          label="LoRA rank", group=SCOPE_GROUP, when=("scope", ("lora",))),
    Param("lora_alpha", "float", 16.0, "LoRA scaling numerator: adapters are scaled by alpha / rank", low=0.01, high=10000.0, log=True,
          label="LoRA alpha", group=SCOPE_GROUP, when=("scope", ("lora",))),
    Param(
        "head_init",
        "choice",
        "proto",
        "Start each episode's head from the class prototypes (Proto-MAML) or from zeros",
        choices=("proto", "zeros"),
        label="Head initialisation",
        group=HEAD,
    ),
    Param("temperature", "float", 10.0, "Norm of the prototype head rows (logit scale of the cosine head)", low=0.01, high=1000.0, log=True,
          group=HEAD),
    Param("vmap_tasks", "bool", True, "Run head-only inner loops of a meta-batch together with torch.func.vmap (on CUDA; on CPU task by task, faster there)",
          label="Batch head-only inner loops (vmap)", group=SPEED),
    *SPEED_PARAMS,
    Param("train_query", "int", 5, "Queries per class in training episodes (0 = task.query); fewer make training faster", low=0, high=1000,
          label="Training queries per class", group=EPISODES),
)


def _gradient_params(*, drop: tuple[str, ...] = (), **defaults: object) -> tuple[Param, ...]:
    return _with_defaults(tuple(p for p in GRADIENT_PARAMS if p.name not in drop), **defaults)


register(
    MethodSpec(
        name="maml",
        title="MAML",
        description="Model-agnostic meta-learning: second-order meta-gradient through the inner loop",
        impl="engine.methods.maml:MAML",
        tasks=WITH_LM,
        family="gradient",
        params=_gradient_params(drop=("vmap_tasks",)),
    )
)

register(
    MethodSpec(
        name="fomaml",
        title="First-order MAML",
        description="MAML without the second-order term: the query gradient at the adapted weights",
        impl="engine.methods.maml:FOMAML",
        tasks=WITH_LM,
        family="gradient",
        params=_gradient_params(drop=("first_order", "vmap_tasks")),
    )
)

register(
    MethodSpec(
        name="anil",
        title="ANIL",
        description="Almost no inner loop: only the head adapts; the encoder learns in the outer loop",
        impl="engine.methods.anil:ANIL",
        tasks=WITH_LM,
        family="gradient",
        params=_gradient_params(
            drop=("scope", "top_k", "lora_rank", "lora_alpha", "inner_lr", "gradient_checkpointing"), inner_steps=3, inner_steps_test=5
        ),
    )
)

register(
    MethodSpec(
        name="metasgd",
        title="Meta-SGD",
        description="MAML with a learned inner learning rate per parameter",
        impl="engine.methods.metasgd:MetaSGD",
        tasks=BOTH_TASKS,
        family="gradient",
        params=_gradient_params(drop=("vmap_tasks",)),
    )
)

def _reptile_param(param: Param) -> Param:
    """Reptile's outer step is plain SGD toward the adapted weights: its help says so, not AdamW."""
    if param.name == "scope":
        return replace(param, choices=("top_k_layers", "lora", "all"))
    if param.name == "lr":
        return replace(param, help="Outer step size of plain SGD: the share of the way toward the adapted weights (1 = all the way)")
    if param.name == "weight_decay":
        return replace(param, help="Weight decay of the outer SGD step")
    return param


register(
    MethodSpec(
        name="reptile",
        title="Reptile",
        description="SGD on each task, then an outer step toward the adapted weights (lr: share of the way, plain SGD)",
        impl="engine.methods.reptile:Reptile",
        tasks=WITH_LM,
        family="gradient",
        params=tuple(
            _reptile_param(p)
            for p in _gradient_params(drop=("first_order", "vmap_tasks", "head_init"), inner_steps=3, grad_clip=0.0, lr=0.5)
        ),
    )
)

# --- in-context learning with a decoder (classification episodes) ---------------------------
PROMPT = "Prompt"
DEFAULT_TEMPLATE = "Input: {text}\nLabel: {label}\n\n"

ICL_PARAMS = (
    Param("template", "str", DEFAULT_TEMPLATE,
          "One demonstration: {text} and then {label}; the support set is written this way, then the query up to {label}",
          label="Prompt template", group=PROMPT),
    Param("verbalizers", "str", "",
          "Words the model says for labels, as label=word pairs separated by commas (empty: each label's own text)",
          label="Verbalisers", group=PROMPT),
    Param("calibration", "choice", "none",
          "contextual: divide each label's probability by its probability after the content-free input \"N/A\" (Zhao et al. 2021)",
          choices=("none", "contextual"), label="Calibration", group=PROMPT),
    Param("score_batch_size", "int", 16, "Prompts scored per forward pass (left-padded)", low=1, high=4096,
          label="Scoring batch size", group=SPEED),
)

register(
    MethodSpec(
        name="icl",
        title="In-context learning",
        description="No training: a decoder reads the support set as demonstrations and scores each label's verbaliser after the query",
        impl="engine.methods.icl:ICL",
        tasks=("classification",),
        model_kinds=("decoder",),
        family="baseline",
        params=ICL_PARAMS,
    )
)

register(
    MethodSpec(
        name="metaicl",
        title="MetaICL",
        description="Meta-trains the decoder to learn in context: ICL prompts from meta-train classes, loss on the query's label tokens",
        impl="engine.methods.metaicl:MetaICL",
        tasks=("classification",),
        model_kinds=("decoder",),
        family="gradient",
        params=tuple(
            replace(p, when=("scope", ("all",))) if p.name == "trainable_layers" else p
            for p in _with_defaults(OPTIMIZER_PARAMS, lr=1e-4, weight_decay=0.0)
        )
        + (
            Param("scope", "choice", "lora", "What meta-training changes: LoRA adapters (the base weights never move) or every weight",
                  choices=("lora", "all"), label="Trained weights", group=SCOPE_GROUP),
            Param("lora_rank", "int", 8, "Rank of the LoRA adapters (scope = lora)", low=1, high=1024,
                  label="LoRA rank", group=SCOPE_GROUP, when=("scope", ("lora",))),
            Param("lora_alpha", "float", 16.0, "LoRA scaling numerator: adapters are scaled by alpha / rank", low=0.01, high=10000.0,
                  log=True, label="LoRA alpha", group=SCOPE_GROUP, when=("scope", ("lora",))),
            Param("meta_batch_size", "int", 2, "Episodes (prompts sets) per optimizer step; train.episodes counts steps", low=1, high=256,
                  label="Meta-batch size", group=EPISODES),
            Param("train_query", "int", 2, "Queries per class in training episodes (0 = task.query); each is one prompt", low=0, high=1000,
                  label="Training queries per class", group=EPISODES),
        )
        + ICL_PARAMS,
    )
)
