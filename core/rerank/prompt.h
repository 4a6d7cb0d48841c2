#pragma once

#include "cf/recommender.h"
#include "data/dataset.h"
#include "rerank/llmtypes.h"
#include "util/error.h"

#include <QJsonObject>
#include <QList>
#include <QString>
#include <atomic>
#include <memory>
#include <span>
#include <vector>

// Enrichment (dataset + user + candidates -> prompt variables) and prompt templates
// (mustache text -> ChatRequest). The variables and the template convention are
// documented in docs/PROMPTS.md. Pure functions over read-only data: thread-safe.
namespace recwb::rerank {

// One CF candidate as the rerank stages see it.
struct Candidate {
    int32_t item = -1; // index into Dataset::items
    QString externalId; // the id the model sees and answers with, always a string
    double cfScore = 0;
    int cfRank = 0; // 1-based position in the CF list
};
// CF output in its order -> candidates with ranks 1..n and external ids.
std::vector<Candidate> candidatesFrom(const Dataset& ds, std::span<const cf::ScoredItem> scored);

struct HistoryEntry {
    int32_t item = -1;
    float value = 1;
    qint64 timestamp = 0; // seconds since the epoch; 0 = unknown
};

// A user that need not be in the dataset: a what-if history, a brand-new user.
struct PromptUser {
    QString id;
    QJsonObject profile;
    std::vector<HistoryEntry> history;
};

class ItemPromptTexts;

struct EnrichOptions {
    int k = 10; // how many the model is asked to pick
    int historyLength = 10; // the last N interactions by time
    int descriptionChars = 200; // candidate descriptions are cut to this, with an ellipsis
    int titleChars = 200; // titles (history and candidates) too
    int topCategories = 5;
    int coldThreshold = kDefaultColdThreshold;
    // Item texts already made prompt-safe, kept across users (a batch shows the same items
    // to many users); used when made for the same dataset and cut lengths, else ignored.
    const ItemPromptTexts* itemTexts = nullptr;
};

// An item's catalog values as the prompt variables hold them (control characters and line
// breaks as spaces, titles and descriptions cut, the id escaped for the template's quotes),
// made on first use and kept. Thread-safe; it refers to the dataset, which must outlive it
// and not change.
class ItemPromptTexts {
public:
    struct Texts {
        QString externalId, title, categories, tags, description, year;
    };
    explicit ItemPromptTexts(const Dataset& ds, int titleChars = EnrichOptions {}.titleChars,
        int descriptionChars = EnrichOptions {}.descriptionChars);
    ~ItemPromptTexts();
    ItemPromptTexts(const ItemPromptTexts&) = delete;
    ItemPromptTexts& operator=(const ItemPromptTexts&) = delete;
    // item must be a valid index.
    const Texts& of(int32_t item) const;
    bool serves(const Dataset& ds, const EnrichOptions& o) const
    {
        return &ds == &m_ds && o.titleChars == m_titleChars && o.descriptionChars == m_descriptionChars;
    }

private:
    const Dataset& m_ds;
    int m_titleChars;
    int m_descriptionChars;
    std::unique_ptr<std::atomic<Texts*>[]> m_slots; // one per item, null until first use
};

// The variable set for the templates: user, history, category_preferences, candidates,
// k, candidate_count, schema (see docs/PROMPTS.md).
QJsonObject enrich(const Dataset& ds, int32_t user, std::span<const Candidate> candidates,
    const EnrichOptions& options = {});
QJsonObject enrich(const Dataset& ds, const PromptUser& user, std::span<const Candidate> candidates,
    const EnrichOptions& options = {});

// The same variables before they become JSON (every value already as prompt text):
// toJson() is exactly enrich()'s object, and renderPrompt() renders them without building
// that object first (the rerank pipeline's path; a fraction of the cost, the same prompt).
struct PromptVariables {
    struct ProfileEntry {
        QString key;
        QString value;
    };
    struct Category {
        QString name;
        int sharePercent = 0;
    };
    struct HistoryItem {
        QString externalId, title, categories, value, time;
    };
    struct CandidateItem {
        QString externalId, title, categories, tags, description, year, cfScore;
        int cfRank = 0;
    };
    QString userId;
    std::vector<ProfileEntry> profile;
    int interactions = 0;
    bool cold = false;
    std::vector<HistoryItem> history;
    std::vector<Category> categoryPreferences;
    std::vector<CandidateItem> candidates;
    int k = 0;
    QJsonObject toJson() const;
};
PromptVariables enrichVariables(const Dataset& ds, int32_t user, std::span<const Candidate> candidates,
    const EnrichOptions& options = {});
PromptVariables enrichVariables(const Dataset& ds, const PromptUser& user, std::span<const Candidate> candidates,
    const EnrichOptions& options = {});

// The answer schema (LLM_APIS.md section 0, item_id a string), as an object and as the
// compact JSON text the templates embed.
QJsonObject answerSchema();
QString answerSchemaText();

struct PromptTemplate {
    QString name;
    int version = 0;
    QString text;
    QString ref() const { return version > 0 ? name + u'@' + QString::number(version) : name; }
};

struct RenderedPrompt {
    QString templateRef;
    ChatRequest request; // system (cache breakpoint) then user; jsonSchema = answerSchema()
    qint64 chars = 0; // over all messages
    qint64 estimatedTokens = 0; // estimateTokens() over all messages
    QString systemText() const;
    QString userText() const;
};

// A template that does not parse or check: where (1-based line and column in the template
// text, the column in characters) and what. message() is
// "prompt template NAME@V line L, column C: WHAT".
class TemplateError : public Error {
public:
    TemplateError(const QString& ref, int line, int column, const QString& what);
    int line() const { return m_line; }
    int column() const { return m_column; }
    const QString& detail() const { return m_what; } // without the "prompt template ..." prefix

private:
    int m_line = 0;
    int m_column = 0;
    QString m_what;
};

// Parses and checks a template without data: syntax (unclosed sections and tags), the
// system/user markers, and names that are not documented variables. Throws TemplateError.
void checkTemplate(const PromptTemplate& t);
// Expansion caps: sections nested deeper than kMaxSectionDepth, or list sections nested
// deeper than kMaxListNesting (each level repeats everything inside it per element: six
// nested candidate lists are 50^6 copies), are refused by checkTemplate(); a part that
// renders to more than kMaxRenderedChars is refused by renderPrompt(). Both throw
// TemplateError naming the template and the line.
inline constexpr int kMaxSectionDepth = 8;
inline constexpr int kMaxListNesting = 2;
inline constexpr qsizetype kMaxRenderedChars = qsizetype(1) << 20;
// Renders with variables from enrich() (extra top-level variables are allowed and may be
// used by the template). Throws the same errors as checkTemplate().
RenderedPrompt renderPrompt(const PromptTemplate& t, const QJsonObject& variables);
// The same as renderPrompt(t, variables.toJson()), byte for byte.
RenderedPrompt renderPrompt(const PromptTemplate& t, const PromptVariables& variables);

// A word-piece heuristic for BPE tokenizers (docs/PROMPTS.md "Estimates").
qint64 estimateTokens(const QString& text);

struct PromptEstimate {
    qint64 inputTokens = 0;
    qint64 outputTokens = 0; // k * tokensPerItem + a small envelope, at most the output cap
    bool outputCapped = false; // the endpoint's output cap is below that
    std::optional<double> usd; // nullopt when a needed price is unknown
};
inline constexpr int kDefaultTokensPerItem = 40;
// maxOutputTokens > 0: the endpoint's answer cap (the model cannot be billed for more).
PromptEstimate estimateCost(const RenderedPrompt& prompt, const Prices& prices, int k,
    int tokensPerItem = kDefaultTokensPerItem, int maxOutputTokens = 0);

// The defaults shipped in resources/prompts (listwise, coldstart, compact), version 1.
QList<PromptTemplate> shippedTemplates();

} // namespace recwb::rerank
