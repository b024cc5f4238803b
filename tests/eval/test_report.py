import numpy as np

from anomalens.eval.report import render_html, render_markdown, summarize, write_report


def rows(method="raw_nnqed", dataset="mnist", seeds=(0, 1)):
    out = []
    for c in range(10):
        for s in seeds:
            out.append({"method": method, "preset": "quick", "dataset": dataset, "protocol": "one_vs_rest",
                        "normal_class": c, "seed": s, "auroc": 0.9 + 0.005 * c + 0.001 * s, "aupr_anomaly": 0.99,
                        "aupr_normal": 0.5, "fpr_at_95tpr": 0.3, "f1": 0.6, "f1_oracle": 0.9, "fit_seconds": 1.0,
                        "score_seconds": 2.0, "device": "cpu",
                        "params": {"index": "pq", "m": 32, "nbits": 4, "seed": s}})
    return out


def test_summary_means_and_reference():
    (g,) = summarize(rows())
    assert g.seeds_per_class() == (2, 2)
    assert g.classes["3"].mean() == np.mean([0.915, 0.916])
    assert g.reference["avg"].value == 94.7
    avg, sd = g.average()
    assert avg == np.mean([0.9 + 0.005 * c + 0.0005 for c in range(10)])


def test_markdown_table_beside_the_paper():
    md = render_markdown(summarize(rows()))
    assert "Paper: seed 000 Table 4 (Raw NN-QED)" in md
    avg_line = [line for line in md.splitlines() if line.startswith("| **average**")][0]
    assert "94.7 ± 3.8" in avg_line and "**-2.4**" in avg_line  # ours 92.3 vs 94.7
    assert "| 3 | 91.5 ± 0.1 |" in md


def test_different_params_are_separate_groups():
    r = rows(seeds=(0,))
    r2 = [dict(x, params={**x["params"], "index": "flat"}) for x in r]
    groups = summarize(r + r2)
    assert len(groups) == 2
    assert any(not g.reference for g in groups)  # Table 4 is for QED, not EED


def test_write_report_html_and_markdown(tmp_path):
    p = tmp_path / "r.jsonl"
    import json

    p.write_text("".join(json.dumps(r) + "\n" for r in rows()))
    text = write_report([p], markdown=tmp_path / "R.md", html_path=tmp_path / "r.html")
    assert (tmp_path / "R.md").read_text() == text and "do not edit by hand" in text
    # the header names where the files are, not a folder they may not be in
    assert f"from r.jsonl (in {tmp_path.name}/);" in text and "benchmarks/results" not in text
    html = (tmp_path / "r.html").read_text()
    assert html.count("data:image/png;base64,") == 1 and "<table>" in html


def test_readme_block_is_replaced(tmp_path):
    import json

    from anomalens.eval.report import README_END, README_START

    p = tmp_path / "r.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows()))
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{README_START}\nold table\n{README_END}\noutro\n")
    write_report([p], readme=readme)
    text = readme.read_text()
    assert "old table" not in text and text.startswith("intro\n") and text.endswith("outro\n")
    assert "| mnist | one_vs_rest | raw_nnqed (index=pq) | quick | 10 | 2 | 92.3 ± 1.4 | 94.7 ± 3.8" in text


def _partial_rows(method, dataset, index, classes=(5, 2)):
    return [dict(r, preset="paper", params={**r["params"], "index": index})
            for r in rows(method, dataset, seeds=(0,)) if r["normal_class"] in classes]


def test_partial_group_is_compared_over_the_classes_run():
    (g,) = summarize(_partial_rows("inception_cae_nnqed", "mnist", "pq"))
    assert g.is_partial() and g.table_classes() == 10 and g.classes_label() == "2 of 10"
    ref = g.paper_average()
    assert ref.value == np.mean([96.7, 95.2]) and ref.spread is None  # Table 2, classes 2 and 5
    assert ref.spread_kind == "the mean of the paper's classes 2, 5"
    avg, _ = g.average()
    md = render_markdown([g])
    assert "**Partial: 2 of 10 classes.**" in md and "; beside it, the mean of the paper's classes 2, 5." in md
    avg_line = [line for line in md.splitlines() if line.startswith("| **average (2 of 10 classes)**")][0]
    assert f"**{100 * avg - ref.value:+.1f}**" in avg_line and "96.9" not in avg_line  # not the 10-class average
    from anomalens.eval.report import render_summary

    line = render_summary([g]).splitlines()[-1]
    assert "| paper | 2 of 10 | 1 |" in line and "mean of the paper's classes 2, 5" in line
    # a partial run does not tick the paper's table off
    tail = md.split("## Paper numbers not yet run", 1)[1]
    assert "InceptionCAE NN-QED" in tail.split("### seed 000 Table 2: mnist, AUROC", 1)[1].split("###", 1)[0]


def test_summary_names_a_train_gap_variant_beside_the_plain_run():
    from anomalens.eval.report import render_summary

    plain = _partial_rows("inception_cae_nnqed", "mnist", "pq", classes=(2,))
    gap = [dict(r, auroc=r["auroc"] + 0.01, params={**r["params"], "train_gap": "reshape"}) for r in plain]
    lines = render_summary(summarize(plain + gap)).splitlines()[2:]
    assert len(lines) == 2
    assert sum("inception_cae_nnqed (index=pq, train_gap=reshape)" in line for line in lines) == 1
    assert sum("inception_cae_nnqed (index=pq) |" in line for line in lines) == 1


def test_summary_tells_the_flow_on_pixels_from_the_flow_on_the_latent():
    from anomalens.eval.report import render_summary

    base = {"method": "encoder_flow", "preset": "paper", "dataset": "fashion_mnist", "protocol": "ood:mnist",
            "normal_class": "all", "seed": 0, "aupr_anomaly": 0.9, "aupr_normal": 0.9, "fpr_at_95tpr": 0.1,
            "f1": 0.9, "f1_oracle": 0.9, "fit_seconds": 1.0, "score_seconds": 1.0, "device": "cpu"}
    runs = [dict(base, auroc=0.995, params={"on": "latent", "seed": 0}),
            dict(base, auroc=0.731, params={"on": "pixels", "seed": 0})]
    lines = render_summary(summarize(runs)).splitlines()[2:]
    assert any("encoder_flow (on=latent) | paper | 1 | 1 | 99.5" in line for line in lines)
    assert any("encoder_flow (on=pixels) | paper | 1 | 1 | 73.1" in line for line in lines)


def test_partial_group_without_per_class_paper_numbers_gets_no_delta():
    (g,) = summarize(_partial_rows("inception_cae_nnqed", "fashion_mnist", "flat"))  # Table 5: average only
    assert g.reference["avg"].value and g.is_partial() and g.paper_average() is None
    assert "the paper prints no per-class numbers" in render_markdown([g])
    (full,) = summarize([dict(r, preset="paper", params={**r["params"], "index": "flat"})
                         for r in rows("inception_cae_nnqed", "fashion_mnist", seeds=(0,))])
    assert not full.is_partial() and full.paper_average() is full.reference["avg"]
    (one,) = summarize(_partial_rows("inception_cae_nnqed", "mnist", "pq", classes=(2,)))
    assert one.paper_average().value == 96.7 and one.paper_average().spread_kind == "the paper's class 2"


def _folder_rows(dataset, method="kd_cae", params=None):
    return [{"method": method, "preset": "paper", "dataset": dataset, "protocol": "folder", "normal_class": c,
             "seed": 0, "auroc": 0.8, "f1": 0.5, "f1_oracle": 0.7, "device": "cpu",
             "params": params or {"score_mode": "combined"}} for c in ("bottle", "screw", "my_part")]


def test_seed001_f1_beside_mvtec_folder_runs_only():
    (g,) = summarize(_folder_rows("folder"))
    assert g.reference_f1["bottle"].value == 87 and "my_part" not in g.reference_f1 and not g.reference
    md = render_markdown([g])
    assert "F1 paper‡" in md and "compare it with F1 oracle" in md
    bottle = [line for line in md.splitlines() if line.startswith("| bottle |")][0]
    assert bottle.split("|")[-4].strip() == "87.0" and bottle.split("|")[-5].strip() == "70.0"  # paper F1, oracle
    (s,) = summarize(_folder_rows("synthetic_parts"))  # the stand-in is never compared with MVTec AD
    assert not s.reference and not s.reference_f1 and "F1 paper" not in render_markdown([s])


def test_paper_numbers_without_a_paper_preset_run_are_listed():
    md = render_markdown(summarize(rows()))  # raw_nnqed at quick: covers nothing
    tail = md.split("## Paper numbers not yet run at the paper preset", 1)[1]
    assert "### seed 000 Table 4: mnist, AUROC" in tail and "Raw NN-QED (`raw_nnqed` index=pq)" in tail
    assert "### seed 001 Table 2: mvtec_ad, F1" in tail
    paper = [dict(r, preset="paper") for r in rows()]
    tail = render_markdown(summarize(paper)).split("## Paper numbers not yet run", 1)[1]
    mnist4 = tail.split("### seed 000 Table 4: mnist, AUROC", 1)[1].split("###", 1)[0]
    assert "Raw NN-QED" not in mnist4 and "InceptionCAE NN-QED" in mnist4
    assert "KD-CAE" not in render_markdown(summarize(_folder_rows("folder"))).split("## Paper numbers", 1)[1]


def test_paired_differences_match_class_seed_and_parameters(tmp_path):
    import json

    from anomalens.eval.report import paired_differences, render_comparisons

    def row(method, c, s, auroc, f1, **params):
        return {"method": method, "preset": "quick", "dataset": "synthetic_parts", "protocol": "folder",
                "normal_class": c, "seed": s, "auroc": auroc, "f1": f1, "device": "cpu",
                "params": {"score_mode": "combined", "seed": s, **params}}

    rs = [row("kd_cae", c, s, 0.6 + 0.1 * s, 0.4) for c in ("bottle", "screw") for s in (0, 1)]
    rs += [row("kd_cae", "bottle", 0, 0.1, 0.1, score_mode="re")]  # another setting: never paired
    rs += [row("kd_cae+dcgan", c, s, 0.65 + 0.1 * s + (0.1 if c == "screw" else 0), 0.5, dcgan={"epochs": 300})
           for c in ("bottle", "screw") for s in (0, 1)]
    for r in rs[-4:]:  # the memorisation check: screw's seed-1 generator did not learn its images
        r.update(gen_to_train_median=80.0 if (r["normal_class"], r["seed"]) == ("screw", 1) else 9.0,
                 train_to_train_median=7.6)
    rs += [row("ni_cae", "bottle", 2, 0.7, 0.3, noise_share=0.1), row("cae_ssim", "bottle", 2, 0.75, 0.3, noise_share=0.0),
           row("ni_cae", "bottle", 3, 0.7, 0.3, noise_share=0.1)]  # seed 3 has no control: left out
    aug, noise = paired_differences(rs)
    assert (aug.method, aug.control, noise.method, noise.control) == ("kd_cae+dcgan", "kd_cae", "ni_cae", "cae_ssim")
    assert sorted(aug.per_class()) == ["bottle", "screw"] and np.allclose(list(aug.per_class().values()), [0.05, 0.15])
    assert np.allclose(aug.by_seed(), [0.1, 0.1]) and np.allclose(aug.by_seed("f1"), [0.1, 0.1])
    assert noise.diffs["auroc"] == {"bottle": {2: noise.diffs["auroc"]["bottle"][2]}}
    assert "| Δ AUROC | -5.0 | **-5.0** | 1 |" in render_comparisons([noise])  # one seed: no spread shown
    assert np.isclose(noise.diffs["auroc"]["bottle"][2], -0.05)
    md = render_comparisons([aug, noise])
    assert "| Δ AUROC | +5.0 | +15.0 | **+10.0 ± 0.0** | 2 |" in md and "dcgan {'epochs': 300}" in md
    assert "noise injection (`ni_cae` - `cae_ssim`)" in md
    assert "| metric | bottle | screw† | avg | seeds |" in md and "not learn the images" in md and "screw seed 1" in md
    assert dict(aug.unlearned) == {"screw": {1}} and not noise.unlearned
    only = render_comparisons(paired_differences(rs, metrics=("auroc",)))
    assert "Δ AUROC" in only and "Δ F1" not in only  # the table shows the metrics asked for
    p = tmp_path / "r.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rs))
    assert "## With and without" in write_report([p], html_path=tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text()
    assert "<h2>With and without</h2>" in page and "<td>+10.0 ± 0.0</td>" in page and "<th>screw†</th>" in page
    assert paired_differences(rows()) == [] and render_comparisons([]) == ""
    # two DCGAN variants of one method are two comparisons, never one table mixing their seeds
    turns = [dict(r, auroc=r["auroc"] + 0.2, params={**r["params"], "dcgan": {"epochs": 300, "alternate": False}})
             for r in rs if r["method"] == "kd_cae+dcgan"]
    both = [c for c in paired_differences(rs + turns) if c.method == "kd_cae+dcgan"]
    assert sorted(str(c.params["dcgan"]) for c in both) == ["{'epochs': 300, 'alternate': False}", "{'epochs': 300}"]
    assert sorted(round(float(np.mean(c.by_seed())), 6) for c in both) == [0.1, 0.3]


def test_folder_rows_get_a_table_by_defect_type_over_the_seeds_that_have_it():
    old = _folder_rows("synthetic_parts")  # seed 0, written before rows carried per-defect figures
    new = []
    for s, (crack, missing) in ((1, (0.9, 0.5)), (2, (0.8, 0.7))):
        for r in _folder_rows("synthetic_parts"):
            by = {"crack": {"n": 10, "auroc": crack, "pixel_auroc": 0.95, "aupro": 0.9},
                  "missing": {"n": 5, "auroc": missing}}
            new.append({**r, "seed": s, "by_defect": by})
    md = render_markdown(summarize(old + new))
    assert "By defect type" in md
    lines = md.splitlines()
    assert "| bottle | crack | 10 | 2 | 85.0 | 95.0 | 90.0 |" in lines
    assert "| bottle | missing | 5 | 2 | 60.0 | — | — |" in lines
    assert "By defect type" not in render_markdown(summarize(rows()))
    page = render_html(summarize(old + new))
    assert "<td>bottle</td><td>crack</td><td>10</td><td>2</td><td>85.0</td>" in page
