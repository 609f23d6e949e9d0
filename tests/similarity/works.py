"""Eight pieces of independent work on the research challenge, written for the similarity benchmark
and tests: different featurisations, models, analyses and written answers, as eight students working
alone would hand in. Each names its challenge, the code of each solution cell (by grade_id), its
written answers, and a rewritten version of one of its functions (what a student who copies the work
rewrites to make it their own).
"""

WORKS: dict[str, dict] = {}


def _work(**fields) -> dict:
    return fields


WORKS["magpie_forest"] = _work(
    challenge="B",
    explore_data="""targets = task.df[target_column]
print(targets.describe())
print("metals (gap = 0):", (targets == 0).sum())
targets.plot.hist(bins=40, log=True)
plt.title("Experimental band gaps")
plt.show()""",
    featurise='''from matminer.featurizers.composition import ElementProperty
from pymatgen.core import Composition

magpie = ElementProperty.from_preset("magpie")


def featurise(inputs: pd.Series) -> pd.DataFrame:
    """Magpie statistics of the elemental properties of each composition."""
    compositions = [Composition(formula) for formula in inputs]
    table = pd.DataFrame(magpie.featurize_many(compositions, pbar=False), columns=magpie.feature_labels())
    table.index = inputs.index
    # a handful of exotic elements have no tabulated value: fill with the column mean
    return table.fillna(table.mean())''',
    model='''from sklearn.ensemble import RandomForestRegressor


def train_model(features: pd.DataFrame, targets: pd.Series):
    """A random forest: no scaling needed, robust to the many correlated Magpie columns."""
    forest = RandomForestRegressor(n_estimators=300, min_samples_leaf=2, max_features=0.33,
                                   random_state=seed, n_jobs=-1)
    forest.fit(features, targets)
    return forest


def predict(model, features: pd.DataFrame):
    """Gaps cannot be negative."""
    return np.clip(model.predict(features), 0, None)''',
    analysis="""errors = []
for fold in task.folds:
    scores = task.results[f"fold_{fold}"].scores
    errors.append(scores["mae"])
print("MAE of each fold:", [round(e, 3) for e in errors])
print("spread between folds:", round(max(errors) - min(errors), 3))""",
    rewritten=(
        "predict",
        '''def predict(model, features: pd.DataFrame):
    """Gaps cannot be negative."""
    raw = model.predict(features)
    raw[raw < 0] = 0.0
    return raw''',
    ),
    problem_statement="""We predict the experimental band gap of a material from its chemical formula alone. Band gaps
decide whether a compound can be used in a solar cell, an LED or a transparent conductor, and measuring
them is slow, so a quick estimate from the composition helps to screen candidates. The task is hard
because about half of the materials are metals with a gap of exactly zero and because polymorphs share
a formula but not a gap.""",
    data_preparation="""I used matminer's Magpie preset, which turns each formula into 132 statistics (mean, range,
mode, deviation) of tabulated element properties such as electronegativity and covalent radius. The
histogram shows a big spike at zero and a long tail up to 11 eV, so I plotted it on a log axis. Missing
values appear only for a few rare elements and are filled with the column mean.""",
    model_choice="""A random forest of 300 trees with leaves of at least two samples. Forests need no feature
scaling, cope with many correlated columns and rarely overfit badly on a few thousand rows. I compared
against a constant prediction of the mean, which the forest beats by a wide margin.""",
    training_testing="""The protocol cell trains one forest per official fold. I did not tune much: max_features of
one third is the usual choice for regression forests. The fold scores are close together, so the mean is
a fair summary of how the model does on unseen formulas.""",
    leaderboard_comparison="""My mean absolute error is close to the RF-SCM/Magpie entry, which makes sense because it is
nearly the same model. The best models on the leaderboard, such as Darwin and MODNet, are clearly better.""",
    declaration=["No.", "None.", "Not applicable.", "All of the work is mine."],
)

WORKS["pymatgen_ridge"] = _work(
    challenge="B",
    explore_data="""gap = task.df[target_column].astype(float)
summary = {"mean": gap.mean(), "median": gap.median(), "zeros": float((gap == 0).mean())}
print(summary)
fig, axes = plt.subplots(1, 2, figsize=(8, 3))
axes[0].hist(gap, bins=30)
axes[1].boxplot(gap)
plt.tight_layout()""",
    featurise="""from pymatgen.core import Composition, Element

ATTRIBUTES = ["X", "atomic_radius", "row", "group", "Z"]


def describe(formula):
    amounts = Composition(formula).fractional_composition
    values = []
    for attribute in ATTRIBUTES:
        column = [float(getattr(Element(str(el)), attribute) or 0.0) for el in amounts]
        weights = [amounts[el] for el in amounts]
        values += [np.average(column, weights=weights), np.max(column) - np.min(column), np.std(column)]
    return values + [len(amounts)]


def featurise(inputs: pd.Series) -> pd.DataFrame:
    names = [f"{stat}_{a}" for a in ATTRIBUTES for stat in ("avg", "range", "std")] + ["n_el"]
    return pd.DataFrame([describe(f) for f in inputs], index=inputs.index, columns=names)""",
    model="""from sklearn.linear_model import RidgeCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler


def train_model(features: pd.DataFrame, targets: pd.Series):
    pipeline = Pipeline([
        ("square", PolynomialFeatures(degree=2, include_bias=False)),
        ("scale", StandardScaler()),
        ("ridge", RidgeCV(alphas=np.logspace(-3, 3, 13))),
    ])
    return pipeline.fit(features.fillna(0.0), targets)


def predict(model, features: pd.DataFrame):
    return model.predict(features.fillna(0.0))""",
    analysis="""chosen = [task.results[f"fold_{f}"].scores["mae"] for f in task.folds]
table = pd.DataFrame({"fold": list(task.folds), "mae": chosen})
print(table.to_string(index=False))
print(f"mean {np.mean(chosen):.3f} eV")""",
    rewritten=(
        "predict",
        """def predict(model, features: pd.DataFrame):
    cleaned = features.copy()
    cleaned[cleaned.isna()] = 0.0
    return model.predict(cleaned)""",
    ),
    problem_statement="""The goal is a regression from a formula to the band gap measured in experiments. It matters
because semiconductors for photovoltaics need gaps in a narrow window. Only the composition is known, not
the crystal structure, which limits how well any model can do.""",
    data_preparation="""Rather than a library featuriser I wrote my own descriptors from pymatgen's element data:
the weighted average, the range and the standard deviation of electronegativity, atomic radius, row,
group and atomic number, plus the number of elements. That gives 16 columns that I can explain one by one.
The box plot shows many outliers above 6 eV which I kept, since they are real insulators.""",
    model_choice="""I chose ridge regression on second-order polynomial terms of my descriptors, with the penalty
picked by RidgeCV from 13 values on a log grid. A linear model is easy to interpret and fast; the squared
terms let it bend. It will not match tree ensembles, but it shows how far simple physics-based features go.""",
    training_testing="""RidgeCV selects alpha by efficient leave-one-out cross-validation inside each training fold,
so the test fold is never used for tuning. The folds give similar errors, with one fold a bit worse.""",
    leaderboard_comparison="""My error is higher than the RF-SCM/Magpie baseline but much lower than the Dummy model. A
linear model on 16 descriptors was not expected to reach the leaderboard's top.""",
    declaration=[
        "Yes, ChatGPT.",
        "Explaining what PolynomialFeatures does.",
        "It gave an outdated argument name once.",
        "I checked the documentation myself.",
    ],
)

WORKS["knn_orbitals"] = _work(
    challenge="B",
    explore_data="""y = task.df[target_column]
print(len(y), "materials")
print(y.quantile([0.1, 0.25, 0.5, 0.75, 0.9]))
duplicates = task.df[input_column].duplicated().sum()
print("repeated formulas:", duplicates)""",
    featurise="""from matminer.featurizers.composition import Stoichiometry, ValenceOrbital
from matminer.featurizers.conversions import StrToComposition

converter = StrToComposition(target_col_id="comp")
featurizers = [Stoichiometry(), ValenceOrbital(props=["frac"])]


def featurise(inputs: pd.Series) -> pd.DataFrame:
    frame = converter.featurize_dataframe(pd.DataFrame({"formula": inputs}), "formula", pbar=False)
    for featurizer in featurizers:
        frame = featurizer.featurize_dataframe(frame, "comp", ignore_errors=True, pbar=False)
    return frame.drop(columns=["formula", "comp"]).fillna(0)""",
    model="""from sklearn.model_selection import GridSearchCV, KFold
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler


def train_model(features: pd.DataFrame, targets: pd.Series):
    search = GridSearchCV(
        make_pipeline(MinMaxScaler(), KNeighborsRegressor(weights="distance")),
        {"kneighborsregressor__n_neighbors": [3, 5, 9, 15, 25]},
        cv=KFold(4, shuffle=True, random_state=seed), scoring="neg_mean_absolute_error")
    search.fit(features, targets)
    print("best k:", search.best_params_)
    return search.best_estimator_


def predict(model, features: pd.DataFrame):
    return model.predict(features)""",
    analysis="""per_fold = pd.Series({f: task.results[f"fold_{f}"].scores["mae"] for f in task.folds})
per_fold.plot.bar(title="MAE per fold")
plt.axhline(per_fold.mean(), color="k")
plt.show()""",
    rewritten=(
        "train_model",
        """def train_model(features: pd.DataFrame, targets: pd.Series):
    best, best_score = None, -np.inf
    for k in [3, 5, 9, 15, 25]:
        candidate = make_pipeline(MinMaxScaler(), KNeighborsRegressor(n_neighbors=k, weights="distance"))
        score = cross_val_score(candidate, features, targets, cv=4, scoring="neg_mean_absolute_error").mean()
        if score > best_score:
            best, best_score = candidate, score
    return best.fit(features, targets)""",
    ),
    problem_statement="""Can the band gap of a compound be guessed from its neighbours in composition space? That is
the idea I test: materials with similar stoichiometry and similar valence electrons should have similar
gaps. The difficulty is that the data set is small for a nearest-neighbour method and that many formulas
appear twice with different gaps.""",
    data_preparation="""I converted each formula to a pymatgen composition with StrToComposition and used two matminer
featurisers: Stoichiometry (p-norms of the fractions) and ValenceOrbital (fraction of s, p, d and f
valence electrons). The quantiles show that the median gap is small. Everything is scaled to the range
zero to one inside the model, because distances need comparable units.""",
    model_choice="""k-nearest neighbours with distance weighting. It has one real hyper-parameter, the number of
neighbours, and makes no assumption about the shape of the function. Its weakness is the curse of
dimensionality, which is why I kept the feature set small.""",
    training_testing="""Inside each training fold a four-fold grid search picks k among 3, 5, 9, 15 and 25 by mean
absolute error; the chosen k is printed for each fold and was 9 most of the time. The bar chart shows the
error of every fold and their mean.""",
    leaderboard_comparison="""The score is worse than RF-SCM/Magpie. The Dummy baseline is beaten. Neighbour methods are
simply not competitive with boosted trees or graph networks on this task.""",
    declaration=[
        "I used Gemini.",
        "To debug an error with featurize_dataframe.",
        "It suggested dropping rows with errors, which I did not do.",
        "Every line was tested by me.",
    ],
)

WORKS["structure_boosting"] = _work(
    challenge="A",
    explore_data="""frequencies = task.df[target_column]
print(frequencies.describe().round(1))
sizes = task.df[input_column].map(len)
print("sites per cell:", sizes.min(), "to", sizes.max())
plt.scatter(sizes, frequencies, s=3)
plt.xlabel("sites")
plt.ylabel("last phonon peak")
plt.show()""",
    featurise="""from matminer.featurizers.structure import DensityFeatures, GlobalSymmetryFeatures

density = DensityFeatures()
symmetry = GlobalSymmetryFeatures(desired_features=["spacegroup_num", "crystal_system_int"])


def lightest_mass(structure):
    return min(site.specie.atomic_mass for site in structure)


def featurise(inputs: pd.Series) -> pd.DataFrame:
    rows = []
    for structure in inputs:
        row = density.featurize(structure) + symmetry.featurize(structure)
        row.append(lightest_mass(structure))
        row.append(structure.volume / structure.num_sites)
        rows.append(row)
    columns = density.feature_labels() + symmetry.feature_labels() + ["lightest_mass", "volume_per_site"]
    return pd.DataFrame(rows, columns=columns, index=inputs.index)""",
    model="""from sklearn.ensemble import GradientBoostingRegressor


def train_model(features: pd.DataFrame, targets: pd.Series):
    booster = GradientBoostingRegressor(loss="absolute_error", n_estimators=2000, learning_rate=0.03,
                                        max_depth=4, subsample=0.7, validation_fraction=0.15,
                                        n_iter_no_change=40, random_state=seed)
    return booster.fit(features, targets)


def predict(model, features: pd.DataFrame):
    return model.predict(features)""",
    analysis="""importance = pd.Series(0.0, index=all_features.columns)
train_inputs, train_targets = task.get_train_and_val_data(task.folds[0])
booster = train_model(all_features.loc[train_inputs.index], train_targets)
importance[:] = booster.feature_importances_
print(importance.sort_values(ascending=False).head(6))
print("trees used after early stopping:", booster.n_estimators_)""",
    rewritten=(
        "lightest_mass",
        """def lightest_mass(structure):
    masses = [float(s.specie.atomic_mass) for s in structure.sites]
    masses.sort()
    return masses[0]""",
    ),
    problem_statement="""The target is the frequency of the highest peak in the phonon density of states, predicted
from the crystal structure. It relates to thermal conductivity and stability. A full phonon calculation
takes days of DFT, so a model that reads it off the structure would save a great deal of computing.""",
    data_preparation="""Physics says the highest vibration frequency grows with bond stiffness and falls with atomic
mass, so I used matminer's density features (density, volume per atom, packing fraction), the space group
and crystal system, the mass of the lightest atom and the volume per site. The scatter plot shows no
strong dependence on cell size. No values were missing.""",
    model_choice="""Gradient boosting with an absolute-error loss, because the leaderboard metric is the MAE and
because boosting handles non-linear effects of few features well. A shallow depth of four keeps the trees
simple with only 1,265 materials.""",
    training_testing="""Early stopping holds out 15 % of each training fold and stops when 40 rounds bring no
improvement; the analysis prints how many trees were kept. Test folds are used only by the protocol.""",
    leaderboard_comparison="""The model beats RF-SCM/Magpie comfortably, which I attribute to the mass feature, but it is
far from MegNet and the other graph networks, which see every bond.""",
    declaration=[
        "Yes, GitHub Copilot.",
        "Autocompleting matplotlib code.",
        "None that I noticed.",
        "I reviewed all completions.",
    ],
)

WORKS["fraction_mlp"] = _work(
    challenge="C",
    explore_data="""energy = task.df[target_column]
print("formation energies from", energy.min(), "to", energy.max(), "eV/atom")
counts = task.df[input_column].map(lambda s: s.composition.reduced_formula).value_counts()
print("formulas seen more than once:", int((counts > 1).sum()))
energy.hist(bins=60)""",
    featurise='''from matminer.featurizers.composition import ElementFraction

fractions = ElementFraction()


def featurise(inputs: pd.Series) -> pd.DataFrame:
    """The fraction of every element (a sparse vector of 103 numbers) plus the lattice constant."""
    matrix = np.array([fractions.featurize(s.composition) for s in inputs])
    frame = pd.DataFrame(matrix, columns=fractions.feature_labels(), index=inputs.index)
    frame = frame.loc[:, frame.sum() > 0]
    frame["lattice_a"] = [s.lattice.a for s in inputs]
    return frame''',
    model="""from sklearn.neural_network import MLPRegressor
from sklearn.preprocessing import StandardScaler


class ScaledNetwork:
    def __init__(self):
        self.scaler = StandardScaler()
        self.net = MLPRegressor(hidden_layer_sizes=(128, 64), alpha=1e-4, learning_rate_init=2e-3,
                                max_iter=400, early_stopping=True, random_state=seed)

    def fit(self, X, y):
        self.net.fit(self.scaler.fit_transform(X), y)
        return self

    def predict(self, X):
        return self.net.predict(self.scaler.transform(X))


def train_model(features: pd.DataFrame, targets: pd.Series):
    return ScaledNetwork().fit(features.reindex(columns=all_features.columns, fill_value=0), targets)


def predict(model, features: pd.DataFrame):
    return model.predict(features.reindex(columns=all_features.columns, fill_value=0))""",
    analysis="""loss = []
for fold in task.folds:
    loss.append(task.results[f"fold_{fold}"].scores["mae"])
plt.plot(list(task.folds), loss, "o-")
plt.ylabel("MAE (eV/atom)")
plt.show()""",
    rewritten=(
        "featurise",
        """def featurise(inputs: pd.Series) -> pd.DataFrame:
    rows = [dict(zip(fractions.feature_labels(), fractions.featurize(s.composition))) for s in inputs]
    frame = pd.DataFrame(rows, index=inputs.index)
    frame = frame[[c for c in frame.columns if frame[c].any()]]
    frame["lattice_a"] = [s.lattice.abc[0] for s in inputs]
    return frame""",
    ),
    problem_statement="""For cubic perovskites ABX3 we predict the formation energy from the structure. Stable
perovskites are sought for solar cells, catalysts and fuel cells, and the formation energy tells us which
combinations of A, B and X are likely to exist.""",
    data_preparation="""Every cell has five atoms, so the composition and the lattice constant almost define the
material. I represent it by the fraction of every element present (matminer ElementFraction), drop
elements that never occur, and add the lattice constant. Many formulas occur twice, as A and B swap.""",
    model_choice="""A neural network with two hidden layers of 128 and 64 units and a little L2 penalty, with
the inputs standardised first. Neural networks can learn interactions between elements from 18,928
examples, which is enough data for a small network.""",
    training_testing="""Early stopping uses 10 % of each training fold for validation. The learning rate and the
layer sizes were chosen by trying three settings on the first training fold only. Errors are stable
across the folds.""",
    leaderboard_comparison="""The network is better than RF-SCM/Magpie but the graph networks such as coGN reach
errors three times lower, because swapped A and B sites look identical in my features.""",
    declaration=["No, I did not use an LLM.", "None.", "Not applicable.", "Not applicable."],
)

WORKS["oxidation_trees"] = _work(
    challenge="B",
    explore_data="""values = np.asarray(task.df[target_column], dtype=float)
print("n =", values.size, "mean =", values.mean().round(2), "std =", values.std().round(2))
print("share of zeros: %.2f" % np.mean(values == 0))
plt.violinplot(values)
plt.show()""",
    featurise="""from matminer.featurizers.composition import OxidationStates, ElementProperty
from matminer.featurizers.conversions import CompositionToOxidComposition
from pymatgen.core import Composition

oxidiser = CompositionToOxidComposition(return_original_on_error=True, max_sites=-50)
oxidation = OxidationStates()
deml = ElementProperty.from_preset("deml")


def featurise(inputs: pd.Series) -> pd.DataFrame:
    frame = pd.DataFrame({"composition": [Composition(f) for f in inputs]}, index=inputs.index)
    frame = oxidiser.featurize_dataframe(frame, "composition", ignore_errors=True, pbar=False)
    frame = oxidation.featurize_dataframe(frame, "composition_oxid", ignore_errors=True, pbar=False)
    frame = deml.featurize_dataframe(frame, "composition", ignore_errors=True, pbar=False)
    return frame.drop(columns=["composition", "composition_oxid"]).astype(float)""",
    model="""from sklearn.ensemble import ExtraTreesRegressor
from sklearn.feature_selection import SelectKBest, f_regression
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline


def train_model(features: pd.DataFrame, targets: pd.Series):
    selector = SelectKBest(f_regression, k=40)
    trees = ExtraTreesRegressor(n_estimators=450, max_depth=22, min_samples_split=4, random_state=seed)
    return make_pipeline(SimpleImputer(strategy="most_frequent"), selector, trees).fit(features, targets)


def predict(model, features: pd.DataFrame):
    return model.predict(features)""",
    analysis="""truth = task.df[target_column]
stored = {}
for fold in task.folds:
    stored.update(dict(task.results[f"fold_{fold}"].data))
predicted = pd.Series(stored)
residual = predicted - truth.loc[predicted.index]
print("worst ten:", residual.abs().nlargest(10).round(2).to_dict())""",
    rewritten=(
        "train_model",
        """def train_model(features: pd.DataFrame, targets: pd.Series):
    steps = [SimpleImputer(strategy="most_frequent"), SelectKBest(f_regression, k=40),
             ExtraTreesRegressor(n_estimators=450, max_depth=22, min_samples_split=4, random_state=seed)]
    model = make_pipeline(*steps)
    model.fit(features, targets)
    return model""",
    ),
    problem_statement="""Band gaps are a property of electrons, and electrons follow oxidation states, so I ask how well
oxidation-state chemistry alone explains the measured gaps of inorganic solids. It is a practical question
for anyone screening semiconductors without crystal structures.""",
    data_preparation="""Formulas were decorated with likely oxidation states by CompositionToOxidComposition, then
described with OxidationStates (minimum, maximum, range and spread of the states) and the DEML element
property preset. Where no oxidation state could be guessed the values are missing and are imputed with
the most frequent value. The violin plot makes the many zero gaps obvious.""",
    model_choice="""Extremely randomised trees after keeping the 40 features most correlated with the gap
(SelectKBest with an F-test), because the DEML preset has many redundant columns. Extra trees are quicker
than a random forest and averaged over 450 trees just as accurate.""",
    training_testing="""The feature selection is fitted inside train_model, so only training data chooses the
features. I checked depth 12, 22 and unlimited on the first fold's training data with a hold-out split.""",
    leaderboard_comparison="""Slightly better than RF-SCM/Magpie, clearly worse than MODNet and Darwin, and far better than
the Dummy.""",
    declaration=[
        "Yes (Claude).",
        "Summarising two papers on band gap prediction.",
        "The summary mixed up two papers.",
        "I read the papers myself afterwards.",
    ],
)

WORKS["lasso_masses"] = _work(
    challenge="A",
    explore_data="""phonon_peak = task.df[target_column]
logs = np.log10(phonon_peak)
print(logs.describe())
plt.hist(logs, bins=35, color="grey")
plt.xlabel("log10 peak frequency")""",
    featurise="""from pymatgen.core.periodic_table import Element


def cell_statistics(structure):
    masses = np.array([s.specie.atomic_mass for s in structure])
    electroneg = np.array([Element(s.specie.symbol).X for s in structure])
    neighbours = structure.get_all_neighbors(3.5)
    counts = np.array([len(n) for n in neighbours])
    return [masses.mean(), masses.min(), masses.var(), np.nanmean(electroneg), np.nanstd(electroneg),
            counts.mean(), structure.density, structure.num_sites, structure.lattice.volume]


def featurise(inputs: pd.Series) -> pd.DataFrame:
    labels = ["m_mean", "m_min", "m_var", "en_mean", "en_std", "cn_mean", "rho", "sites", "volume"]
    return pd.DataFrame([cell_statistics(s) for s in inputs], columns=labels, index=inputs.index)""",
    model="""from sklearn.linear_model import LassoCV
from sklearn.preprocessing import SplineTransformer
from sklearn.pipeline import make_pipeline


def train_model(features: pd.DataFrame, targets: pd.Series):
    spline = SplineTransformer(n_knots=6, degree=3)
    lasso = LassoCV(cv=5, n_alphas=60, max_iter=20000, random_state=seed)
    return make_pipeline(spline, lasso).fit(features.fillna(features.median()), np.log(targets))


def predict(model, features: pd.DataFrame):
    return np.exp(model.predict(features.fillna(features.median())))""",
    analysis="""mae_values = np.array([task.results[f"fold_{i}"].scores["mae"] for i in task.folds])
print("MAE %.1f +- %.1f" % (mae_values.mean(), mae_values.std()))
print("relative to the mean peak: %.1f %%" % (100 * mae_values.mean() / task.df[target_column].mean()))""",
    rewritten=(
        "cell_statistics",
        """def cell_statistics(structure):
    masses = [s.specie.atomic_mass for s in structure]
    chi = [Element(s.specie.symbol).X for s in structure]
    coordination = [len(n) for n in structure.get_all_neighbors(3.5)]
    return [np.mean(masses), np.min(masses), np.var(masses), np.nanmean(chi), np.nanstd(chi),
            np.mean(coordination), structure.density, len(structure), structure.volume]""",
    ),
    problem_statement="""I want to know how much of the phonon peak position a sparse, interpretable model explains.
The last phonon peak sets the scale of lattice vibrations and so the heat a crystal can carry; predicting
it without density functional perturbation theory would speed up screening of thermal materials.""",
    data_preparation="""Nine hand-made structure statistics: mean, minimum and variance of the atomic masses, the mean
and spread of electronegativity, the average number of neighbours within 3.5 Å, the density, the number of
sites and the cell volume. The target covers more than a decade, so the model fits its logarithm.""",
    model_choice="""A lasso on cubic spline expansions of the nine statistics. The splines give each feature a
smooth non-linear effect and the L1 penalty removes the pieces that do not help, so the result can be read
as a sum of curves.""",
    training_testing="""LassoCV picks the penalty by five-fold cross-validation inside the training data of each
fold. The spread between folds is about a tenth of the mean error.""",
    leaderboard_comparison="""The lasso is below RF-SCM/Magpie in accuracy; a sparse additive model is not flexible enough
to compete with the leaders, but it is better than the Dummy.""",
    declaration=["No LLM was used.", "-", "-", "-"],
)

WORKS["glass_logistic"] = _work(
    challenge="D",
    explore_data="""labels = task.df[target_column].astype(bool)
print(labels.value_counts(normalize=True))
elements = task.df[input_column].map(lambda f: len(Composition(f).elements))
print(pd.crosstab(elements, labels))""",
    featurise="""from matminer.featurizers.composition import ElementProperty, Miedema
from pymatgen.core import Composition

ELEMENT_STATS = ElementProperty(data_source="pymatgen", features=["X", "atomic_radius", "mendeleev_no"],
                                stats=["mean", "minimum", "maximum", "std_dev"])
MIEDEMA = Miedema(struct_types="all")


def featurise(inputs: pd.Series) -> pd.DataFrame:
    compositions = inputs.map(Composition)
    stats = ELEMENT_STATS.featurize_many(compositions, pbar=False)
    enthalpies = MIEDEMA.featurize_many(compositions, ignore_errors=True, pbar=False)
    table = np.hstack([np.array(stats, dtype=float), np.array(enthalpies, dtype=float)])
    names = ELEMENT_STATS.feature_labels() + MIEDEMA.feature_labels()
    return pd.DataFrame(table, index=inputs.index, columns=names)""",
    model="""from sklearn.impute import KNNImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import QuantileTransformer


def train_model(features: pd.DataFrame, targets: pd.Series):
    classifier = LogisticRegression(C=0.7, class_weight="balanced", max_iter=3000)
    pipeline = make_pipeline(KNNImputer(n_neighbors=7), QuantileTransformer(n_quantiles=200), classifier)
    return pipeline.fit(features, targets.astype(bool))


def predict(model, features: pd.DataFrame):
    return model.predict(features)""",
    analysis="""from sklearn.metrics import confusion_matrix

truth, guesses = [], []
for fold in task.folds:
    recorded = task.results[f"fold_{fold}"].data
    guesses += [bool(v) for v in dict(recorded).values()]
    truth += list(task.df.loc[list(dict(recorded).keys()), target_column].astype(bool))
print(confusion_matrix(truth, guesses))""",
    rewritten=(
        "train_model",
        """def train_model(features: pd.DataFrame, targets: pd.Series):
    steps = make_pipeline(KNNImputer(n_neighbors=7), QuantileTransformer(n_quantiles=200),
                          LogisticRegression(C=0.7, class_weight="balanced", max_iter=3000))
    steps.fit(features, np.asarray(targets, dtype=bool))
    return steps""",
    ),
    problem_statement="""Which metallic alloys form glasses when cooled quickly? We classify compositions as glass
formers or not. Metallic glasses are strong and corrosion resistant, but finding new ones by trial and
error is slow; a classifier could narrow the search.""",
    data_preparation="""Glass formation depends on atomic size mismatch and mixing enthalpy, so I used element
statistics of electronegativity, radius and Mendeleev number plus Miedema's model of the formation
enthalpy of the liquid, amorphous and solid phases. The classes are unbalanced (71 % glass) and the
cross table shows binaries are less often glasses than ternaries.""",
    model_choice="""Logistic regression with balanced class weights after a quantile transform. It is a linear
decision boundary, which is modest, but Miedema enthalpies are designed to separate phases linearly and
the model is well calibrated.""",
    training_testing="""Missing Miedema values are filled by a seven-neighbour KNN imputer fitted on the training fold.
C was set to 0.7 after a small search on the first fold. The confusion matrix shows most errors are
non-glasses predicted as glasses.""",
    leaderboard_comparison="""The leaderboard's ROC-AUC is computed by matbench from my True/False predictions, which makes it
the balanced accuracy. Mine lands between the Dummy and RF-SCM/Magpie.""",
    declaration=[
        "Yes, ChatGPT.",
        "Checking the grammar of my answers.",
        "It changed a technical term once.",
        "I accepted only grammar fixes.",
    ],
)
