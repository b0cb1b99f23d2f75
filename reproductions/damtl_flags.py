"""Flags shared by damtl_omniglot.py and damtl_tables.py (a helper module,
not a script): how the seven methods train, i.e. every choice the DAMTL
paper leaves open (docs/damtl.md). Every flag defaults to None, meaning the
profile's value (amtfl_tf.experiments.damtl_common.TrainSettings)."""

from absl import flags

from amtfl_tf.experiments import damtl_common

# (name, kind, help); kind "int", "float" or "enum:a,b,c".
TRAIN_FLAGS = (
    ("epochs", "int", "Iterations (full-batch steps) of every method."),
    ("batch_size", "int", "Mini-batch size; 0: full batch (Eq. 4 sums "
                          "over all N_j samples)."),
    ("optimizer", "enum:" + ",".join(damtl_common.OPTIMIZERS),
     "Optimiser of every method (default: momentum SGD, momentum 0.9)."),
    ("learning_rate", "float", "η (paper: 0.01)."),
    ("momentum", "float", "Momentum of --optimizer=momentum (0.9)."),
    ("alpha", "float", "α_{T_j}, the task weight (paper: 0.01)."),
    ("lambda1", "float", "λ1 of Σ‖Ψ‖₁ (paper: 0.9)."),
    ("lambda2", "float", "λ2 of the CMMD alignment (paper: 0.9)."),
    ("ce_reduction", "enum:sum,mean",
     "Cross-entropy over a task's samples: summed (Eq. 4) or averaged."),
    ("l1_reduction", "enum:mean,sum",
     "‖Ψ‖₁ per mask entry (mean) or summed (Eq. 4 as printed)."),
    ("mask_granularity", "enum:weight,filter",
     "Ψ per kernel weight (Eq. 1) or per output filter (pruning "
     "neurons)."),
    ("mask_param", "enum:constraint,softplus,abs",
     "How Ψ >= 0 is kept: projection (NonNeg), softplus or abs."),
    ("mask_init_low", "float", "Ψ starts ~ U(low, high) (random, Alg. 1)."),
    ("mask_init_high", "float", "Ψ starts ~ U(low, high)."),
    ("train_conv", "enum:copy,frozen",
     "Train each task's copy W_{T_j} of W_aux (Algorithm 1) or keep W_aux "
     "fixed (Eq. 1)."),
    ("aux_fc", "enum:frozen,trained",
     "The auxiliary FC layers f_aux of Eq. (3) stay frozen (Algorithm 1) "
     "or train with the task networks."),
    ("head_init", "enum:aux,random",
     "DAMTL output layers start from the auxiliary output columns of "
     "their classes, or at random."),
    ("head_stddev", "float",
     "Std of the N(0, s²) initial output layers that are not copied."),
    ("align_layers", "enum:all,hidden,output,none",
     "FC layers aligned by CMMD (Eq. 3)."),
    ("cmmd_kernel", "enum:multi_gaussian,gaussian,linear",
     "Kernel of the CMMD."),
    ("cmmd_num_kernels", "int", "Gaussians of the multi-Gaussian kernel."),
    ("cmmd_kernel_mul", "float",
     "Bandwidth ratio between successive Gaussians (2)."),
    ("baseline_init", "enum:aux,random",
     "Baselines fine-tune the auxiliary network (aux) or start from "
     "scratch (random)."),
    ("cross_stitch_granularity", "enum:channel,layer",
     "Cross-stitch α per channel or per layer."),
    ("cross_stitch_positions", "enum:conv,fc,all",
     "Where cross-stitch units go."),
    ("nddr_positions", "enum:conv,fc,all", "Where NDDR layers go."),
    ("nddr_momentum", "float",
     "Momentum of the NDDR batch norms' moving statistics."),
    ("mtal_threshold", "float", "MTAL's kernel-similarity threshold ρ."),
    ("mtal_pairs", "enum:all,across",
     "MTAL aggregates similar kernel pairs across tasks only, or also "
     "inside one network."),
    ("aux_epochs", "int", "Auxiliary pre-training epochs."),
    ("aux_learning_rate", "float", "Auxiliary pre-training Adam rate."),
)


def define_train_flags(flag_values) -> None:
    for name, kind, help_ in TRAIN_FLAGS:
        help_ += " Default: the profile's."
        if kind == "int":
            flags.DEFINE_integer(name, None, help_, flag_values=flag_values)
        elif kind == "float":
            flags.DEFINE_float(name, None, help_, flag_values=flag_values)
        else:
            flags.DEFINE_enum(name, None, kind[5:].split(","), help_,
                              flag_values=flag_values)


def train_overrides(flag_values) -> dict:
    out = {}
    for name, _, _ in TRAIN_FLAGS:
        value = flag_values[name].value
        if value is None:
            continue
        if name == "mask_param":
            out["mask_parameterization"] = value
        elif name == "train_conv":
            out["train_conv"] = value == "copy"
        elif name == "aux_fc":
            out["train_aux_fc"] = value == "trained"
        else:
            out[name] = value
    return out


def given(flag_values, names) -> dict:
    """The flags among ``names`` that were set (not None)."""
    return {n: flag_values[n].value for n in names
            if flag_values[n].value is not None}
