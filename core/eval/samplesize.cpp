#include "eval/samplesize.h"

#include "util/error.h"

#include <array>
#include <cmath>
#include <numbers>

namespace recwb::eval {

namespace {

    bool inOpenUnit(double v)
    {
        return std::isfinite(v) && v > 0 && v < 1;
    }

    // Peter Acklam's algorithm (relative error 1.15e-9 before the refinement).
    double acklam(double p)
    {
        constexpr std::array a { -3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
            1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00 };
        constexpr std::array b { -5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
            6.680131188771972e+01, -1.328068155288572e+01 };
        constexpr std::array c { -7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
            -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00 };
        constexpr std::array d { 7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
            3.754408661907416e+00 };
        constexpr double low = 0.02425;
        auto tail = [&](double q) {
            return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
                / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
        };
        if (p < low)
            return tail(std::sqrt(-2 * std::log(p)));
        if (p > 1 - low)
            return -tail(std::sqrt(-2 * std::log(1 - p)));
        const double q = p - 0.5;
        const double r = q * q;
        return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
            / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    }

} // namespace

double normalQuantile(double p)
{
    if (!inOpenUnit(p))
        throw Error(QStringLiteral("normal quantile: p = %1 is outside (0, 1)").arg(p));
    double x = acklam(p);
    // One Halley step on Phi(x) - p, Phi from erfc (accurate in both tails).
    const double e = 0.5 * std::erfc(-x / std::numbers::sqrt2) - p;
    const double u = e * std::sqrt(2 * std::numbers::pi) * std::exp(x * x / 2);
    x -= u / (1 + x * u / 2);
    return x;
}

SampleSize sampleSizeTwoProportions(const SampleSizeInput& in)
{
    if (!inOpenUnit(in.baseline))
        throw Error(QStringLiteral("sample size: the baseline rate %1 is outside (0, 1)").arg(in.baseline));
    if (!std::isfinite(in.effect) || in.effect == 0)
        throw Error(QStringLiteral("sample size: the effect is 0; no sample size detects no difference"));
    if (!inOpenUnit(in.alpha))
        throw Error(QStringLiteral("sample size: alpha %1 is outside (0, 1)").arg(in.alpha));
    if (!inOpenUnit(in.power))
        throw Error(QStringLiteral("sample size: power %1 is outside (0, 1)").arg(in.power));
    SampleSize s;
    s.p1 = in.baseline;
    s.p2 = in.kind == SampleSizeInput::Effect::Absolute ? in.baseline + in.effect : in.baseline * (1 + in.effect);
    if (!inOpenUnit(s.p2))
        throw Error(QStringLiteral("sample size: baseline %1 with effect %2 gives the rate %3, outside (0, 1)")
                        .arg(in.baseline)
                        .arg(in.effect)
                        .arg(s.p2));
    const double q1 = 1 - s.p1;
    const double q2 = 1 - s.p2;
    const double pBar = (s.p1 + s.p2) / 2;
    const double nullVar = in.variance == SampleSizeInput::NullVariance::Pooled ? 2 * pBar * (1 - pBar) : 2 * s.p1 * q1;
    const double zAlpha = normalQuantile(1 - in.alpha / 2);
    const double zBeta = normalQuantile(in.power);
    const double num = zAlpha * std::sqrt(nullVar) + zBeta * std::sqrt(s.p1 * q1 + s.p2 * q2);
    const double diff = s.p2 - s.p1;
    s.exact = num * num / (diff * diff);
    s.perArm = static_cast<qint64>(std::ceil(s.exact - 1e-9));
    return s;
}

QJsonObject SampleSize::toJson() const
{
    return { { QStringLiteral("p1"), p1 }, { QStringLiteral("p2"), p2 }, { QStringLiteral("n_exact"), exact },
        { QStringLiteral("per_arm"), static_cast<double>(perArm) },
        { QStringLiteral("total"), static_cast<double>(total()) } };
}

} // namespace recwb::eval
