#include "rerank/prices.h"
#include "util/error.h"
#include "testutil.h"

using namespace recwb;
using namespace recwb::rerank;

namespace {

Prices row(const QString& provider, const QString& model)
{
    const auto r = PriceTable::builtin().lookup(provider, model);
    if (!r)
        qFatal("no price row for %s %s", qPrintable(provider), qPrintable(model));
    return r->prices;
}

} // namespace

class TestCost : public QObject {
    Q_OBJECT

private slots:
    // LLM_APIS.md section 1 example: prompt 1234 (1024 cached), completion 210, gpt-4.1-mini.
    void openAi()
    {
        Usage u;
        u.inputTokens = 1234;
        u.cachedInputTokens = 1024;
        u.outputTokens = 210;
        const Prices p = row(QStringLiteral("openai"), QStringLiteral("gpt-4.1-mini-2025-04-14"));
        QCOMPARE(*p.input, 0.40);
        const double expected = (210 * 0.40 + 1024 * 0.10 + 210 * 1.60) / 1e6;
        QVERIFY(qFuzzyCompare(*costOf(u, p), expected));
    }

    // OpenAI with billed cache writes (gpt-5.6-luna: 0.20 in, 0.02 read, 0.25 write, 1.20 out).
    void openAiCacheWrites()
    {
        Usage u;
        u.inputTokens = 5000;
        u.cachedInputTokens = 1000;
        u.cacheWriteTokens = 2000;
        u.outputTokens = 300;
        const Prices p = row(QStringLiteral("openai"), QStringLiteral("gpt-5.6-luna"));
        // (prompt - cached)*in + cached*read + writes*(write - in) + out*out
        const double formula = ((5000 - 1000) * 0.20 + 1000 * 0.02 + 2000 * (0.25 - 0.20) + 300 * 1.20) / 1e6;
        QVERIFY(qFuzzyCompare(*costOf(u, p), formula));
    }

    // LLM_APIS.md section 2 example: input 312 uncached, cache read 2048, no writes, output 180, sonnet 4.5.
    void anthropic()
    {
        Usage u; // normalised: total input = 312 + 0 + 2048
        u.inputTokens = 312 + 2048;
        u.cachedInputTokens = 2048;
        u.outputTokens = 180;
        const Prices p = row(QStringLiteral("anthropic"), QStringLiteral("claude-sonnet-4-5-20250929"));
        QCOMPARE(*p.input, 3.0);
        const double expected = (312 * 3.00 + 2048 * 0.30 + 180 * 15.00) / 1e6;
        QVERIFY(qFuzzyCompare(*costOf(u, p), expected));
        // With a 5-minute cache write of 1500 tokens.
        u.inputTokens += 1500;
        u.cacheWriteTokens = 1500;
        QVERIFY(qFuzzyCompare(*costOf(u, p), expected + 1500 * 3.75 / 1e6));
    }

    // LLM_APIS.md section 3 example: prompt 1500 (1024 cached), candidates 200 + thoughts 350, gemini-2.5-flash.
    void gemini()
    {
        Usage u;
        u.inputTokens = 1500;
        u.cachedInputTokens = 1024;
        u.outputTokens = 200 + 350; // thinking is billed as output
        u.reasoningTokens = 350;
        const Prices p = row(QStringLiteral("gemini"), QStringLiteral("models/gemini-2.5-flash"));
        const double expected = ((1500 - 1024) * 0.30 + 1024 * 0.03 + 550 * 2.50) / 1e6;
        QVERIFY(qFuzzyCompare(*costOf(u, p), expected));
    }

    // LLM_APIS.md section 4 example: Ollama, 36 in, 180 out: local, free.
    void local()
    {
        Usage u;
        u.inputTokens = 36;
        u.outputTokens = 180;
        EndpointProfile e;
        e.kind = ProviderKind::OllamaNative;
        e.model = QStringLiteral("llama3.1:8b");
        const auto p = PriceTable::builtin().pricesFor(e);
        QVERIFY(p);
        QCOMPARE(*costOf(u, *p), 0.0);
        e.kind = ProviderKind::OpenAiChat;
        e.baseUrl = QStringLiteral("http://127.0.0.1:8080/v1");
        QCOMPARE(priceProvider(e), QStringLiteral("local"));
        e.baseUrl = QStringLiteral("https://api.groq.com/openai/v1");
        e.model = QStringLiteral("llama-3.1-8b-instant");
        QCOMPARE(*PriceTable::builtin().pricesFor(e)->output, 0.08);
    }

    void unknownPriceIsUnknown()
    {
        Usage u;
        u.inputTokens = 1000;
        u.cachedInputTokens = 500;
        u.outputTokens = 10;
        // gemini-2.0-flash-lite has no cached price: a cached read makes the cost unknown.
        QVERIFY(!costOf(u, row(QStringLiteral("gemini"), QStringLiteral("gemini-2.0-flash-lite"))).has_value());
        // gpt-4.1 bills no cache writes: cache-write tokens make it unknown, not 0.
        Usage w;
        w.inputTokens = 100;
        w.cacheWriteTokens = 50;
        QVERIFY(!costOf(w, row(QStringLiteral("openai"), QStringLiteral("gpt-4.1"))).has_value());
        QVERIFY(!costOf(u, Prices {}).has_value());
        QCOMPARE(*costOf(Usage {}, Prices {}), 0.0); // nothing used, nothing owed
        EndpointProfile e;
        e.kind = ProviderKind::OpenAiChat;
        e.baseUrl = QStringLiteral("https://api.openai.com/v1");
        e.model = QStringLiteral("no-such-model");
        QVERIFY(!PriceTable::builtin().pricesFor(e).has_value());
    }

    void lookupPrefersExactThenLongestPrefix()
    {
        const PriceTable t = PriceTable::builtin();
        QCOMPARE(t.lookup(QStringLiteral("openai"), QStringLiteral("gpt-4.1"))->model, QStringLiteral("gpt-4.1"));
        QCOMPARE(t.lookup(QStringLiteral("openai"), QStringLiteral("gpt-4.1-mini-2025-04-14"))->model, QStringLiteral("gpt-4.1-mini"));
        QCOMPARE(t.lookup(QStringLiteral("openai"), QStringLiteral("gpt-4o-2024-08-06"))->model, QStringLiteral("gpt-4o"));
        QCOMPARE(t.lookup(QStringLiteral("anthropic"), QStringLiteral("claude-haiku-4-5-20251001"))->model, QStringLiteral("claude-haiku-4-5"));
        QCOMPARE(t.lookup(QStringLiteral("gemini"), QStringLiteral("gemini-3-pro-preview"))->model, QStringLiteral("gemini-3-pro-preview"));
        QVERIFY(t.lookup(QStringLiteral("openai"), QStringLiteral("gpt-5"))->prices.asOf.startsWith(u"2025"));
        for (const char* m : { "gpt-4.1", "gpt-4o", "gpt-5", "gpt-5-mini" })
            QVERIFY2(t.lookup(QStringLiteral("openai"), QString::fromLatin1(m)), m);
        for (const char* m : { "claude-haiku-4-5", "claude-sonnet-4-5", "claude-opus-4-1" })
            QVERIFY2(t.lookup(QStringLiteral("anthropic"), QString::fromLatin1(m)), m);
        for (const char* m : { "gemini-2.5-flash", "gemini-2.5-pro", "gemini-3-flash-preview", "gemini-3-pro-preview" })
            QVERIFY2(t.lookup(QStringLiteral("gemini"), QString::fromLatin1(m)), m);
    }

    void userFileOverrides()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("prices.json"));
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(R"({"rows":[{"provider":"openai","model":"gpt-4.1-mini","input":0.2,"cached_input":null,"output":0.8,"as_of":"2027-01-01"},
                            {"provider":"openai","model":"my-finetune","input":1,"output":2}]})");
        f.close();
        const PriceTable t = PriceTable::load(path);
        const auto mini = t.lookup(QStringLiteral("openai"), QStringLiteral("gpt-4.1-mini"));
        QCOMPARE(*mini->prices.input, 0.2);
        QVERIFY(!mini->prices.cachedInput);
        QCOMPARE(mini->prices.asOf, QStringLiteral("2027-01-01"));
        QCOMPARE(*t.lookup(QStringLiteral("openai"), QStringLiteral("my-finetune"))->prices.output, 2.0);
        QCOMPARE(t.rows().size(), PriceTable::builtin().rows().size() + 1);
        QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
        f.write(R"({"rows":[{"provider":"openai","model":"x","input":-1}]})");
        f.close();
        try {
            PriceTable::load(path);
            QFAIL("a negative price must be refused");
        } catch (const Error& e) {
            QVERIFY2(e.message().contains(path) && e.message().contains(u"row 1"), qPrintable(e.message()));
        }
    }

    void malformedFileNamesFileAndLine()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("prices.json"));
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("{\"rows\":[\n {\"provider\":\"openai\" \"model\":\"x\"}\n]}");
        f.close();
        try {
            PriceTable::load(path);
            QFAIL("malformed JSON must be refused");
        } catch (const Error& e) {
            QVERIFY2(e.message().startsWith(path) && e.message().contains(u"line 2, column 24"), qPrintable(e.message()));
        }
    }

    void sourcesAndChoice()
    {
        const PriceTable shipped = PriceTable::builtin();
        for (const PriceRow& r : shipped.rows())
            QCOMPARE(r.source, kShippedPriceSource);
        EndpointProfile e;
        e.kind = ProviderKind::OpenAiChat;
        e.baseUrl = QStringLiteral("https://api.openai.com/v1");
        e.model = QStringLiteral("gpt-4.1-mini-2025-04-14");
        const PriceChoice row = PriceTable::builtin().choose(e);
        QCOMPARE(row.source, kShippedPriceSource);
        QCOMPARE(row.provider, QStringLiteral("openai"));
        QCOMPARE(row.model, QStringLiteral("gpt-4.1-mini"));
        QCOMPARE(*row.prices->input, 0.4);
        QVERIFY(!row.prices->asOf.isEmpty());
        e.prices.input = 9; // the endpoint's own prices win
        const PriceChoice own = PriceTable::builtin().choose(e);
        QCOMPARE(own.source, QStringLiteral("endpoint"));
        QCOMPARE(*own.prices->input, 9.0);
        QVERIFY(!own.prices->output); // and stay partial: an estimate needing output is unknown
        e.prices = {};
        e.model = QStringLiteral("no-such-model");
        const PriceChoice none = PriceTable::builtin().choose(e);
        QVERIFY(!none.prices);
        QVERIFY(none.source.isEmpty());
    }

    void overrideLocationRule()
    {
        QTemporaryDir dir;
        const QByteArray oldXdg = qgetenv("XDG_CONFIG_HOME");
        const QByteArray oldEnv = qgetenv("RECWB_PRICES");
        qputenv("XDG_CONFIG_HOME", dir.path().toUtf8());
        qunsetenv("RECWB_PRICES");
        PriceOverrideLocation where = priceOverrideLocation();
        QCOMPARE(where.path, dir.filePath(QStringLiteral("recwb/prices.json")));
        QVERIFY(!where.fromEnvironment);
        QCOMPARE(PriceTable::loadWithOverride().rows().size(), PriceTable::builtin().rows().size()); // absent: fine

        QVERIFY(QDir(dir.path()).mkpath(QStringLiteral("recwb")));
        QFile f(where.path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(R"({"rows":[{"provider":"openai","model":"gpt-4.1-mini","input":1,"output":2,"as_of":"2027-01-01"}]})");
        f.close();
        const auto mini = PriceTable::loadWithOverride().lookup(QStringLiteral("openai"), QStringLiteral("gpt-4.1-mini"));
        QCOMPARE(*mini->prices.input, 1.0);
        QCOMPARE(mini->source, where.path);

        const QString other = dir.filePath(QStringLiteral("other.json"));
        QVERIFY(QFile::copy(where.path, other));
        qputenv("RECWB_PRICES", other.toUtf8());
        where = priceOverrideLocation();
        QCOMPARE(where.path, other);
        QVERIFY(where.fromEnvironment);
        QCOMPARE(PriceTable::loadWithOverride().lookup(QStringLiteral("openai"), QStringLiteral("gpt-4.1-mini"))->source, other);
        qputenv("RECWB_PRICES", dir.filePath(QStringLiteral("missing.json")).toUtf8());
        QVERIFY_THROWS_EXCEPTION(Error, PriceTable::loadWithOverride()); // named explicitly: must exist

        oldXdg.isNull() ? qunsetenv("XDG_CONFIG_HOME") : qputenv("XDG_CONFIG_HOME", oldXdg);
        oldEnv.isNull() ? qunsetenv("RECWB_PRICES") : qputenv("RECWB_PRICES", oldEnv);
    }

    void totalsOverARun()
    {
        CostTotals t;
        Usage a;
        a.inputTokens = 100;
        a.outputTokens = 10;
        t.add(a, 0.5);
        t.add(a, 0.25);
        QCOMPARE(t.usage.inputTokens, 200);
        QCOMPARE(t.calls, 2);
        QCOMPARE(*t.usd(), 0.75);
        t.add(a, std::nullopt);
        QVERIFY(!t.usd().has_value());
        QCOMPARE(t.knownUsd, 0.75);
        QCOMPARE(t.unpricedCalls, 1);
    }
};

QTEST_APPLESS_MAIN(TestCost)
#include "tst_cost.moc"
