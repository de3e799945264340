# Paired Δ (reference - method, > 0 better) of the xTB foundation [long] against chemprop without a foundation [long], from runs.csv (run from the repo root).
import sys, pathlib; sys.path.insert(0, 'benchmarks'); import vs_chemprop as vc, pandas as pd
r = vc.load_runs(pathlib.Path('results/vs-chemprop/recipes/runs.csv'))
T = 'chemprop + xTB NODE+GRAPH foundation [long]'
rows = []
for task in ['ogbg-molesol', 'ogbg-molfreesolv']:
    for f in [0.1, 0.25, 1.0]:
        x = r[(r.task == task) & (r.train_fraction == f)]
        g = lambda m, c: x[x.method == m].set_index('seed')[c]
        for col in ['valid_rmse', 'rmse']:
            d = vc.paired_difference(g(T, col), g('chemprop defaults [long]', col), 'rmse')
            rows.append({'task': task, 'train_fraction': f, 'method': T, 'reference': 'chemprop defaults [long]',
                         'metric': col} | {f'delta_{k}': v for k, v in d.items()})
pd.DataFrame(rows).to_csv('results/vs-chemprop/recipes/foundation_vs_recipe_alone.csv', index=False)
