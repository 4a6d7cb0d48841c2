#pragma once

#include "rerank/llmtypes.h"

#include <QList>
#include <QString>
#include <optional>

// The price table (USD per million tokens) and cost accounting. The table ships as
// resources/prices.json (LLM_APIS.md section 10) and is data, not code: a user file of
// the same shape overrides rows by provider + model (docs/PROMPTS.md "Prices and cost").
namespace recwb::rerank {

struct PriceRow {
    QString provider; // "openai", "anthropic", "gemini", "groq", "together", "fireworks", "openrouter", "local"
    QString model; // exact model id or a prefix of dated ids; "" matches every model of the provider
    Prices prices;
    QString note;
    QString source; // where the row came from: kShippedPriceSource or the override file's path
};

inline const QString kShippedPriceSource = QStringLiteral("shipped");
// The prices an estimate used, and where they came from.
struct PriceChoice {
    std::optional<Prices> prices; // nullopt: no row and no endpoint prices (unknown)
    QString source; // "endpoint" (its own prices), a row's source ("shipped" or a file), "" when unknown
    QString provider; // the table provider looked up (priceProvider())
    QString model; // the matching row's model pattern ("" for a catch-all row)
    QString note; // the row's note
};

// Where the user's price file is looked for: $RECWB_PRICES when set (then the file must
// exist), else QStandardPaths::GenericConfigLocation + "/recwb/prices.json"
// ($XDG_CONFIG_HOME/recwb/prices.json, ~/.config/recwb/prices.json on Linux; optional).
struct PriceOverrideLocation {
    QString path;
    bool fromEnvironment = false; // RECWB_PRICES
};
PriceOverrideLocation priceOverrideLocation();

class PriceTable {
public:
    // The shipped table, read from the resource once.
    static PriceTable builtin();
    // The shipped table with the rows of userFile on top (when the file exists).
    // Throws Error naming the file and row on bad content.
    static PriceTable load(const QString& userFile = {});
    // The shipped table with the user's file (priceOverrideLocation()) on top. Throws Error
    // naming the file when it is malformed, or when RECWB_PRICES names a missing file.
    static PriceTable loadWithOverride();
    static PriceTable fromJson(const QByteArray& json, const QString& source);

    void overrideWith(const PriceTable& other); // rows with the same provider+model are replaced
    const QList<PriceRow>& rows() const { return m_rows; }

    // Exact model match first, then the longest model prefix ("gpt-4.1-mini-2025-04-14"
    // -> "gpt-4.1-mini"). A "models/" prefix (Gemini) is ignored.
    std::optional<PriceRow> lookup(const QString& provider, const QString& model) const;
    // The prices for an endpoint: its own prices when any is set, else the row for its
    // provider (from the kind and base URL host) and model; loopback and Ollama are local (0).
    std::optional<Prices> pricesFor(const EndpointProfile& endpoint) const;
    // The same, with the source of the prices (for showing an estimate's basis).
    PriceChoice choose(const EndpointProfile& endpoint) const;

private:
    QList<PriceRow> m_rows;
};

// "anthropic", "gemini", "local" (offline, Ollama, loopback hosts), "groq", "together",
// "fireworks", "openrouter" by host, else "openai".
QString priceProvider(const EndpointProfile& endpoint);

Usage& operator+=(Usage& a, const Usage& b);

// Usage and cost summed over the calls of a run. A call with an unknown cost makes the
// total unknown too (knownUsd still sums the calls that were priced).
struct CostTotals {
    Usage usage;
    int calls = 0;
    int unpricedCalls = 0;
    double knownUsd = 0;
    void add(const Usage& u, const std::optional<double>& usd);
    std::optional<double> usd() const { return unpricedCalls == 0 ? std::optional<double>(knownUsd) : std::nullopt; }
};

} // namespace recwb::rerank
