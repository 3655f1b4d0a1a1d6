// Peeking simulation: how often does "stop at the first significant look" declare a winner when there is
// none? Null A/A experiments (every arm converts at the same rate) are analysed after every batch of users
// with the `fixed` and the `sequential` method of expstream's stats; a run counts as a false positive when
// any look is labelled significant. Sequential is always valid, so it must stay at or under alpha; fixed
// is not, and inflates with every look. A second scenario with a real lift shows what the guarantee costs.
//
//   make && ./peeking                      # the default scenarios below
//   ./peeking --runs 20000 --looks 50 --per-look 200 --rate 0.05 --lift 0 --treatments 1 --seed 7
#include "expstream/stats.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <vector>

using namespace expstream;

namespace {

struct Scenario {
    std::string label;
    int runs = 5000;
    int looks = 100;
    std::int64_t per_look = 100;  // users per arm per look
    double rate = 0.10;           // control conversion rate
    double lift = 0.0;            // relative lift of every treatment (0 = null / A/A)
    int treatments = 1;
    double alpha = 0.05;
    double tuning = 5000;
    std::uint64_t seed = 20240601;
};

struct Tally {
    long hits = 0;         // runs with at least one significant look
    double stop_sum = 0;   // sum of the first significant look (over hits)
    void add(int first) {
        if (first >= 0) {
            ++hits;
            stop_sum += first + 1;
        }
    }
};

void print_row(const char* name, const Tally& t, int runs) {
    const double r = static_cast<double>(t.hits) / runs;
    const double se = std::sqrt(r * (1.0 - r) / runs);
    std::printf("  %-52s %7.4f  (95%% MC: %.4f - %.4f)", name, r, std::max(0.0, r - 1.96 * se),
                std::min(1.0, r + 1.96 * se));
    if (t.hits > 0) std::printf("  mean stop look %5.1f", t.stop_sum / t.hits);
    std::printf("\n");
}

void run(const Scenario& s) {
    std::mt19937_64 rng(s.seed);
    const int arms = s.treatments + 1;
    const double treated = s.rate * (1.0 + s.lift);
    std::binomial_distribution<std::int64_t> control_draw(s.per_look, s.rate), treated_draw(s.per_look, treated);

    AnalysisOptions fixed;
    fixed.method = Method::Fixed;
    fixed.alpha = s.alpha;
    fixed.correction = Correction::HolmBonferroni;
    AnalysisOptions seq = fixed;
    seq.method = Method::Sequential;
    seq.sequential_tuning = s.tuning;

    Tally fixed_naive, fixed_label, seq_label, fixed_once, seq_once;
    std::vector<VariantCounts> v(arms);
    for (int a = 0; a < arms; ++a) {
        v[a].key = a == 0 ? "control" : "t" + std::to_string(a);
        v[a].name = v[a].key;
        v[a].is_control = a == 0;
    }
    for (int r = 0; r < s.runs; ++r) {
        for (auto& a : v) a.participants = a.conversions = 0;
        std::vector<std::optional<double>> history;
        int first_naive = -1, first_fixed = -1, first_seq = -1;
        bool last_fixed = false, last_seq = false;
        for (int look = 0; look < s.looks; ++look) {
            for (int a = 0; a < arms; ++a) {
                v[a].participants += s.per_look;
                v[a].conversions += a == 0 ? control_draw(rng) : treated_draw(rng);
            }
            // "Naive" fixed: today's behaviour, any unadjusted pooled p < alpha.
            if (first_naive < 0) {
                const Analysis legacy = analyze(v, s.alpha);
                if (legacy.is_significant) first_naive = look;
            }
            const Analysis f = analyze(v, fixed);
            if (first_fixed < 0 && f.is_significant) first_fixed = look;
            const Analysis q = analyze(v, seq, history);
            history = q.min_p_values;
            if (first_seq < 0 && q.is_significant) first_seq = look;
            if (look == s.looks - 1) {
                last_fixed = f.is_significant;
                last_seq = q.is_significant;
            }
        }
        fixed_naive.add(first_naive);
        fixed_label.add(first_fixed);
        seq_label.add(first_seq);
        fixed_once.add(last_fixed ? s.looks - 1 : -1);
        seq_once.add(last_seq ? s.looks - 1 : -1);
    }

    std::printf("\n%s\n", s.label.c_str());
    std::printf("  runs=%d looks=%d users/arm/look=%lld rate=%.3f lift=%+.1f%% treatments=%d alpha=%.3f N*=%.0f "
                "seed=%llu\n",
                s.runs, s.looks, static_cast<long long>(s.per_look), s.rate, 100.0 * s.lift, s.treatments, s.alpha,
                s.tuning, static_cast<unsigned long long>(s.seed));
    const char* what = s.lift == 0.0 ? "false-positive rate" : "power (share of runs declared significant)";
    std::printf("  %s:\n", what);
    print_row("fixed, legacy label (pooled p < alpha), stop at first", fixed_naive, s.runs);
    print_row("fixed, new label (Holm p + both CIs), stop at first", fixed_label, s.runs);
    print_row("sequential, new label, stop at first", seq_label, s.runs);
    print_row("fixed, new label, final look only (no peeking)", fixed_once, s.runs);
    print_row("sequential, new label, final look only", seq_once, s.runs);
}

bool arg(int& i, int argc, char** argv, const char* name, std::string& out) {
    if (std::strcmp(argv[i], name) != 0 || i + 1 >= argc) return false;
    out = argv[++i];
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    Scenario custom;
    bool any = false;
    for (int i = 1; i < argc; ++i) {
        std::string v;
        if (arg(i, argc, argv, "--runs", v)) custom.runs = std::atoi(v.c_str());
        else if (arg(i, argc, argv, "--looks", v)) custom.looks = std::atoi(v.c_str());
        else if (arg(i, argc, argv, "--per-look", v)) custom.per_look = std::atoll(v.c_str());
        else if (arg(i, argc, argv, "--rate", v)) custom.rate = std::atof(v.c_str());
        else if (arg(i, argc, argv, "--lift", v)) custom.lift = std::atof(v.c_str());
        else if (arg(i, argc, argv, "--treatments", v)) custom.treatments = std::atoi(v.c_str());
        else if (arg(i, argc, argv, "--alpha", v)) custom.alpha = std::atof(v.c_str());
        else if (arg(i, argc, argv, "--tuning", v)) custom.tuning = std::atof(v.c_str());
        else if (arg(i, argc, argv, "--seed", v)) custom.seed = std::strtoull(v.c_str(), nullptr, 10);
        else {
            std::fprintf(stderr, "unknown or incomplete argument: %s\n", argv[i]);
            return 2;
        }
        any = true;
    }
    if (any) {
        custom.label = "Custom scenario";
        run(custom);
        return 0;
    }
    Scenario null2;
    null2.label = "A/A, two arms (the acceptance scenario)";
    run(null2);
    Scenario null4 = null2;
    null4.label = "A/A, control + 3 treatments (family-wise error, Holm on)";
    null4.treatments = 3;
    null4.seed += 1;
    run(null4);
    Scenario power = null2;
    power.label = "Real effect: +20% relative lift (10% -> 12%), two arms";
    power.lift = 0.20;
    power.seed += 2;
    run(power);
    return 0;
}
