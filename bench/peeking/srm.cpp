// Sample-ratio-mismatch peeking simulation: how often does an SRM check that is read after every update
// raise a false alarm when traffic is split exactly as configured, and how soon does it catch a real
// mismatch? Users arrive one look at a time and are assigned at random with the actual shares; after every
// look both tests of expstream's stats run on the cumulative counts:
//   chi-square:  srm_chi_square, Pearson's goodness of fit (fixed horizon: valid when read once)
//   sequential:  srm_sequential, Lindon & Malek's Dirichlet-multinomial Bayes factor, k = 100 (anytime valid)
// A run raises an alarm at the first look with p < alpha. Both tests see the same simulated users (paired).
//
//   make run-srm                       # the default scenarios below (~2 min, single-threaded)
//   ./srm --runs 20000 --looks 1000 --users 1000000 --weights 1,1 --mismatch 0.01 --alpha 0.001 --seed 7
//
// --mismatch m: the first arm's actual share is its configured share * (1 + m), the others shrink in
// proportion (m = 0.01 on 50/50: 50.5/49.5). m = 0 is the A/A (null) scenario.
#include "expstream/stats.hpp"

#include <algorithm>
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
    int runs = 20000;
    int looks = 1000;
    std::int64_t users = 1000000;            // total users over all looks
    std::vector<double> weights{1.0, 1.0};   // the configured split
    double mismatch = 0.0;                   // relative excess of the first arm's share (0: A/A)
    std::vector<double> alphas{0.001, 0.05};
    double concentration = kSrmConcentration;
    std::vector<std::int64_t> checkpoints;   // users at which power is reported (mismatch > 0)
    std::uint64_t seed = 20240616;
};

// The actual assignment shares: configured, with the first arm's share scaled by (1 + mismatch).
std::vector<double> actual_shares(const Scenario& s) {
    double total = 0.0;
    for (double w : s.weights) total += w;
    std::vector<double> q;
    for (double w : s.weights) q.push_back(w / total);
    const double first = std::min(1.0, q[0] * (1.0 + s.mismatch));
    const double rest = 1.0 - q[0];
    for (std::size_t i = 1; i < q.size(); ++i) q[i] = rest > 0.0 ? q[i] * (1.0 - first) / rest : 0.0;
    q[0] = first;
    return q;
}

// Wilson score interval at 95 %: usable for the rare events counted here (a handful of alarms).
void print_rate(long hits, int runs) {
    const double n = runs, z = 1.96, r = hits / n;
    const double centre = (r + z * z / (2 * n)) / (1 + z * z / n);
    const double half = z * std::sqrt(r * (1 - r) / n + z * z / (4 * n * n)) / (1 + z * z / n);
    std::printf("  %7.4f%% (%ld/%d; 95%% CI %.4f-%.4f%%)", 100.0 * r, hits, runs, 100.0 * std::max(0.0, centre - half),
                100.0 * std::min(1.0, centre + half));
}

std::string format_users(std::int64_t n) {
    std::string digits = std::to_string(n), out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return out;
}

double p_or_one(const std::optional<double>& p) { return p ? *p : 1.0; }

void run(const Scenario& s) {
    const std::size_t arms = s.weights.size();
    const std::vector<double> q = actual_shares(s);
    const std::int64_t per_look = s.users / s.looks;
    std::mt19937_64 rng(s.seed);

    // Per method (0 chi-square, 1 sequential) and alpha: runs alarmed by each look (monitoring, first alarm)
    // and runs whose test at that look alone says p < alpha (read once at that N).
    const std::size_t na = s.alphas.size();
    std::vector<std::vector<long>> first_at(2 * na, std::vector<long>(s.looks, 0));
    std::vector<std::vector<long>> once_at(2 * na, std::vector<long>(s.looks, 0));
    std::vector<std::int64_t> counts(arms);
    std::vector<double> min_p(2);
    for (int r = 0; r < s.runs; ++r) {
        std::fill(counts.begin(), counts.end(), 0);
        min_p[0] = min_p[1] = 1.0;
        std::vector<int> first(2 * na, -1);
        for (int look = 0; look < s.looks; ++look) {
            // A multinomial draw of this look's users, one conditional binomial per arm.
            std::int64_t left = per_look;
            double share_left = 1.0;
            for (std::size_t a = 0; a + 1 < arms; ++a) {
                const double p = share_left > 0.0 ? std::clamp(q[a] / share_left, 0.0, 1.0) : 0.0;
                const std::int64_t x = left > 0 ? std::binomial_distribution<std::int64_t>(left, p)(rng) : 0;
                counts[a] += x;
                left -= x;
                share_left -= q[a];
            }
            counts[arms - 1] += left;
            const double p[2] = {p_or_one(srm_chi_square(counts, s.weights).p_value),
                                 p_or_one(srm_sequential(counts, s.weights, kSrmAlpha, s.concentration).p_value)};
            for (int m = 0; m < 2; ++m) {
                for (std::size_t i = 0; i < na; ++i) {
                    const std::size_t k = m * na + i;
                    if (p[m] < s.alphas[i]) {
                        ++once_at[k][look];
                        if (first[k] < 0) first[k] = look;
                    }
                }
            }
        }
        for (std::size_t k = 0; k < 2 * na; ++k)
            if (first[k] >= 0) ++first_at[k][first[k]];
    }
    // Cumulative: alarmed by look L.
    for (auto& f : first_at)
        for (int look = 1; look < s.looks; ++look) f[look] += f[look - 1];

    std::printf("\n%s\n", s.label.c_str());
    std::printf("  runs=%d users=%s looks=%d (%s users each) configured=", s.runs, format_users(s.users).c_str(),
                s.looks, format_users(per_look).c_str());
    for (std::size_t a = 0; a < arms; ++a) std::printf("%s%.4g", a ? "/" : "", s.weights[a]);
    std::printf(" actual shares=");
    for (std::size_t a = 0; a < arms; ++a) std::printf("%s%.4f", a ? "/" : "", q[a]);
    std::printf(" k=%.0f seed=%llu\n", s.concentration, static_cast<unsigned long long>(s.seed));
    const char* names[2] = {"chi-square", "sequential"};
    if (s.mismatch == 0.0) {
        for (std::size_t i = 0; i < na; ++i) {
            std::printf("  alpha %.3g: false-alarm rate\n", s.alphas[i]);
            for (int m = 0; m < 2; ++m) {
                std::printf("    %-10s alarm at any of the %4d looks     ", names[m], s.looks);
                print_rate(first_at[m * na + i][s.looks - 1], s.runs);
                std::printf("\n");
            }
            for (int m = 0; m < 2; ++m) {
                std::printf("    %-10s final look only (read once)       ", names[m]);
                print_rate(once_at[m * na + i][s.looks - 1], s.runs);
                std::printf("\n");
            }
        }
        return;
    }
    for (std::size_t i = 0; i < na; ++i) {
        std::printf("  alpha %.3g: power = share of runs with an alarm\n", s.alphas[i]);
        std::printf("    %12s  %22s  %22s  %18s  %18s\n", "users", "chi-square, by then", "sequential, by then",
                    "chi-square, once", "sequential, once");
        std::vector<std::int64_t> at = s.checkpoints;
        if (at.empty() || at.back() != per_look * s.looks) at.push_back(per_look * s.looks);
        for (std::int64_t n : at) {
            const std::int64_t looks_done = std::clamp<std::int64_t>(n / per_look, 1, s.looks);
            const int look = static_cast<int>(looks_done) - 1;
            std::printf("    %12s  %21.2f%%  %21.2f%%  %17.2f%%  %17.2f%%\n", format_users(looks_done * per_look).c_str(),
                        100.0 * first_at[i][look] / s.runs, 100.0 * first_at[na + i][look] / s.runs,
                        100.0 * once_at[i][look] / s.runs, 100.0 * once_at[na + i][look] / s.runs);
        }
        for (int m = 0; m < 2; ++m) {
            const auto& f = first_at[m * na + i];
            const long half = (s.runs + 1) / 2;
            const auto it = std::lower_bound(f.begin(), f.end(), half);
            std::printf("    %-10s median users to the first alarm: %s\n", names[m],
                        it == f.end() ? "never (fewer than half the runs alarm)"
                                      : format_users((it - f.begin() + 1) * per_look).c_str());
        }
    }
}

bool arg(int& i, int argc, char** argv, const char* name, std::string& out) {
    if (std::strcmp(argv[i], name) != 0 || i + 1 >= argc) return false;
    out = argv[++i];
    return true;
}

std::vector<double> parse_list(const std::string& text) {
    std::vector<double> out;
    std::size_t start = 0;
    while (start <= text.size()) {
        const std::size_t comma = text.find(',', start);
        out.push_back(std::atof(text.substr(start, comma - start).c_str()));
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    Scenario custom;
    custom.checkpoints = {100000, 200000, 500000};
    bool any = false;
    for (int i = 1; i < argc; ++i) {
        std::string v;
        if (arg(i, argc, argv, "--runs", v)) custom.runs = std::atoi(v.c_str());
        else if (arg(i, argc, argv, "--looks", v)) custom.looks = std::atoi(v.c_str());
        else if (arg(i, argc, argv, "--users", v)) custom.users = std::atoll(v.c_str());
        else if (arg(i, argc, argv, "--weights", v)) custom.weights = parse_list(v);
        else if (arg(i, argc, argv, "--mismatch", v)) custom.mismatch = std::atof(v.c_str());
        else if (arg(i, argc, argv, "--alpha", v)) custom.alphas = parse_list(v);
        else if (arg(i, argc, argv, "--concentration", v)) custom.concentration = std::atof(v.c_str());
        else if (arg(i, argc, argv, "--seed", v)) custom.seed = std::strtoull(v.c_str(), nullptr, 10);
        else {
            std::fprintf(stderr, "unknown or incomplete argument: %s\n", argv[i]);
            return 2;
        }
        any = true;
    }
    if (custom.runs < 1 || custom.looks < 1 || custom.users < custom.looks || custom.weights.size() < 2 ||
        custom.alphas.empty() || custom.mismatch < 0.0) {
        std::fprintf(stderr, "need runs >= 1, 1 <= looks <= users, >= 2 weights, an alpha, mismatch >= 0\n");
        return 2;
    }
    if (any) {
        custom.label = custom.mismatch == 0.0 ? "Custom A/A scenario" : "Custom mismatch scenario";
        run(custom);
        return 0;
    }
    // A/A at 50/50: 10^6 users, read 100 or 1,000 times. Many runs: the sequential test's alarms are rare.
    Scenario aa;
    aa.runs = 100000;
    aa.looks = 100;
    aa.label = "SRM, A/A at 50/50 (no mismatch): 10^6 users, 100 looks";
    run(aa);
    aa.looks = 1000;
    aa.seed += 1;
    aa.label = "SRM, A/A at 50/50 (no mismatch): 10^6 users, 1,000 looks";
    run(aa);
    // A 1 % ratio mismatch: 50.5/49.5 against a configured 50/50, read 1,000 times.
    Scenario power;
    power.runs = 10000;
    power.looks = 1000;
    power.mismatch = 0.01;
    power.checkpoints = {100000, 200000, 300000, 500000};
    power.seed += 2;
    power.label = "SRM, 1% ratio mismatch (50.5/49.5, configured 50/50): 10^6 users, 1,000 looks";
    run(power);
    return 0;
}
