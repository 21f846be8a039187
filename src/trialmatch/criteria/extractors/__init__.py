"""The concept extractors of the criteria compiler, one module per family.

``common`` (numbers, comparators, durations, negation), ``person`` (age, sex, menopause, pregnancy,
performance, life expectancy), ``receptors`` (receptors, genes), ``disease`` (diagnosis and extent,
metastasis, measurable disease, other malignancy), ``labs`` (lab thresholds, measurements), ``therapy``
(prior therapy, current and concurrent medications, use within a window, doses), ``events`` (recent
events, "N weeks since X"), ``conditions`` (infections, conditions, condition lists, generic conditions,
vague comorbidities, allergies), ``confirm`` (confirmation cues, fitness judgements, permissions,
placeholders, local rules, unsupported patterns).

Each module registers its extractors (``registry.register``) under the names of its data file,
``data/<family>.json`` (atom kinds, phase, gate words, cue tables, validated on load); the order they run
in and the rules between them are ``trialmatch.criteria.arbitration``.
"""
