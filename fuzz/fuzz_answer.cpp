// libFuzzer target: the LLM answer parser and validator (fences, prose, hallucinated,
// repeated and injected ids, bad scores, truncation) against a fixed candidate set. Whatever
// the text, the result is k distinct candidates ranked 1..k, or the CF order with a reason.
#include "rerank/answer.h"

#include <QSet>
#include <QString>
#include <cstdint>
#include <cstdlib>
#include <vector>

namespace {

std::vector<recwb::rerank::Candidate> candidates()
{
    std::vector<recwb::rerank::Candidate> c;
    const char* ids[] = { "1", "2", "3", "10", "42", "0042", "a\"b", "x y", "\u00e9t\u00e9", "-7", "1e3", "id:5" };
    for (int i = 0; i < static_cast<int>(std::size(ids)); ++i)
        c.push_back({ i, QString::fromUtf8(ids[i]), 1.0 / (i + 1), i + 1 });
    return c;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    if (size < 1)
        return 0;
    static const std::vector<recwb::rerank::Candidate> kCandidates = candidates();
    const int k = 1 + data[0] % 12;
    const auto finish = data[0] & 0x80 ? recwb::rerank::FinishReason::Truncated : recwb::rerank::FinishReason::Ok;
    const QString text = QString::fromUtf8(reinterpret_cast<const char*>(data + 1), static_cast<qsizetype>(size - 1));
    const recwb::rerank::RerankResult r = recwb::rerank::parseAnswer(text, finish, kCandidates, k);
    if (r.items.size() != k)
        std::abort();
    QSet<int32_t> seen;
    for (qsizetype i = 0; i < r.items.size(); ++i) {
        const auto& item = r.items[i];
        if (item.rank != i + 1 || item.item < 0 || item.item >= static_cast<int32_t>(kCandidates.size()))
            std::abort();
        if (item.externalId != kCandidates[static_cast<size_t>(item.item)].externalId)
            std::abort();
        if (seen.contains(item.item))
            std::abort(); // a candidate twice
        seen.insert(item.item);
    }
    if (!r.usable && r.fallbackReason.isEmpty())
        std::abort();
    (void)r.toJson();
    return 0;
}
