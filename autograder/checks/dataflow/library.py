"""What library calls do to rows: the tables of scikit-learn, pandas, numpy, matbench (and other)
names the data-flow analysis knows.

The loaders (a file of unknown content, the data set, matbench's folds), the splitters and
resamplers, the pipelines, predict and score methods, the calls that choose among values, the
searches that call an objective, the attributes of a fitted search, the keywords that pass data or
set no hyper-parameter, the classes that hold data, the methods that change their receiver, the
calls whose result holds no rows or the rows they were given. The tables shared
with the static checks (fit methods, pre-processors, metrics, cross-validation functions...) are in
autograder.checks.analysis.
"""

OPAQUE_LOADERS = {
    "load",
    "loads",
    "fromfile",
    "read_sql",
}  # np.load, pickle.load...: a file of unknown content
FOLD_ACCESSORS = {"get_train_and_val_data", "get_test_data"}  # matbench: a fold's training or test rows
PATH_KEYWORDS = {"filepath_or_buffer", "path", "path_or_buf", "fname", "file", "filename"}  # a reader's file
LOADER_MODULES = {"np", "numpy", "pickle", "json", "joblib", "torch", "dill", "cloudpickle", "pd", "pandas"}
DATASET_LOADERS = {"load_dataset"}
ROW_SPLITTERS = {"train_test_split"}
RESAMPLERS = {"fit_resample", "shuffle", "resample"}  # `X, y = shuffle(X, y)`: the same rows, in parts
DATA_KEYWORDS = {"X", "y", "x", "Y", "sample_weight"}  # the keywords of a fit that pass it data
PIPELINES = {
    "Pipeline",
    "make_pipeline",
    "ColumnTransformer",
    "make_column_transformer",
    "FeatureUnion",
    "make_union",
    "TransformedTargetRegressor",
}
PREDICT_METHODS = {
    "predict",
    "predict_proba",
    "predict_log_proba",
    "transform",
    "inverse_transform",
    "decision_function",
    "score_samples",
    "kneighbors",
}
SCORE_METHODS = {"score", "evaluate"}
CHOICE_CALLS = {
    "min",
    "max",
    "sorted",
    "argmin",
    "argmax",
    "nanargmin",
    "nanargmax",
    "idxmin",
    "idxmax",
    "sort_values",
    "nsmallest",
    "nlargest",
    "argsort",
    "sort",
    "choose",
    "best",
}
CALLBACK_SEARCHES = {
    "gp_minimize",
    "forest_minimize",
    "gbrt_minimize",
    "dummy_minimize",
    "optimize",
    "fmin",
    "minimize",
    "minimize_scalar",
    "BayesianOptimization",
}
BEST_ATTRS = {
    "best_params_",
    "best_estimator_",
    "best_score_",
    "best_index_",
    "cv_results_",
    "best_params",
    "best_value",
    "best_trial",
    "x",
    "fun",
}
SEED_KEYWORDS = {
    "random_state",
    "seed",
    "random_seed",
    "n_jobs",
    "verbose",
    "verbosity",
    "device",
    "nthread",
    "n_threads",
    "thread_count",
    "silent",
    "njobs",
}
DATA_CLASSES = {
    "DataFrame",
    "Series",
    "Index",
    "Composition",
    "Structure",
    "Path",
    "Lattice",
    "Element",
    "Counter",
    "OrderedDict",
    "Figure",
    "Dataset",
    "DMatrix",
    "Pool",
    "TensorDataset",
    "DataLoader",
    "Tensor",
}
MUTATORS = {"append", "extend", "insert", "add", "update", "setdefault", "__setitem__", "put"}
SCALAR_CALLS = {
    "len",
    "print",
    "isinstance",
    "issubclass",
    "type",
    "range",
    "hasattr",
    "id",
    "display",
    "open",
    "format",
    "repr",
    "callable",
}
PASS_THROUGH_CALLS = {"list", "tuple", "iter", "reversed", "set", "deepcopy", "copy"}  # the same rows
SPLIT_WORDS = ("split", "train", "test", "fold", "partition", "holdout")
