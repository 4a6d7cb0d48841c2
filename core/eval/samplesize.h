#pragma once

#include <QJsonObject>
#include <QString>
#include <QtGlobal>

// Sample size of an online A/B test on two proportions (the design asks for one before a
// reranker goes live): users per arm to detect the effect with the given alpha (two-sided)
// and power, by the normal approximation without continuity correction.
namespace recwb::eval {

// The inverse of the standard normal CDF (Acklam's rational approximation refined by one
// Halley step on erfc: full double precision). Throws Error outside (0, 1).
double normalQuantile(double p);

struct SampleSizeInput {
    enum class Effect { Absolute, Relative };
    // The variance under the null: Pooled is the textbook formula (p̄ = (p1 + p2) / 2; R's
    // power.prop.test); Baseline uses p1 for both arms, as Evan Miller's calculator does.
    enum class NullVariance { Pooled, Baseline };
    double baseline = 0; // p1, the control's rate, in (0, 1)
    double effect = 0; // p2 - p1 (Absolute) or p2 / p1 - 1 (Relative); not 0
    Effect kind = Effect::Absolute;
    double alpha = 0.05; // two-sided
    double power = 0.8;
    NullVariance variance = NullVariance::Pooled;
};

struct SampleSize {
    double p1 = 0;
    double p2 = 0;
    double exact = 0; // the formula's real-valued n
    qint64 perArm = 0; // ceil(exact)
    qint64 total() const { return 2 * perArm; }
    QJsonObject toJson() const;
};

//   n = (z_{1-a/2} sqrt(2 p̄ q̄) + z_{1-b} sqrt(p1 q1 + p2 q2))^2 / (p2 - p1)^2 per arm
// (with Baseline variance, sqrt(2 p1 q1) replaces sqrt(2 p̄ q̄)). Throws Error naming the
// input that is out of range: a zero effect, rates outside (0, 1), alpha or power outside (0, 1).
SampleSize sampleSizeTwoProportions(const SampleSizeInput& input);

} // namespace recwb::eval
