#include "data/sqlite.h"
#include "data/workspace.h"
#include "rerank/cache.h"
#include "rerank/prompt.h"
#include "rerank/store.h"
#include "testutil.h"

#include <sqlite3.h>

using namespace recwb;
using namespace recwb::rerank;

class TestRerankStore : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    int m_n = 0;
    QString newPath() { return m_dir.filePath(QStringLiteral("ws%1.recwb").arg(++m_n)); }

private slots:
    void newWorkspaceHasOfflineDefault()
    {
        auto ws = Workspace::open(newPath(), Workspace::Mode::CreateOrOpen);
        QCOMPARE(ws->schemaVersion(), Workspace::kSchemaVersion);
        const auto eps = store::listEndpoints(*ws);
        QCOMPARE(eps.size(), 1);
        QCOMPARE(eps[0].name, QStringLiteral("offline"));
        QCOMPARE(eps[0].kind, ProviderKind::Offline);
        QCOMPARE(store::defaultEndpoint(*ws), QStringLiteral("offline"));
    }

    void templateVersionsKeepParents()
    {
        auto ws = Workspace::open(newPath(), Workspace::Mode::CreateOrOpen);
        QCOMPARE(store::seedDefaultTemplates(*ws), 3);
        QCOMPARE(store::seedDefaultTemplates(*ws), 0); // only when missing
        const auto v1 = store::getTemplate(*ws, QStringLiteral("listwise"));
        QCOMPARE(v1.version, 1);
        QVERIFY(!v1.parentVersion);
        const auto v2 = store::addTemplateVersion(*ws, QStringLiteral("listwise"), v1.text + QStringLiteral("\nBe brief."),
            QStringLiteral("shorter"));
        QCOMPARE(v2.version, 2);
        QCOMPARE(*v2.parentVersion, 1);
        const auto v3 = store::addTemplateVersion(*ws, QStringLiteral("listwise"), QStringLiteral("{{! user }}\nalt"), {}, 1);
        QCOMPARE(v3.version, 3);
        QCOMPARE(*v3.parentVersion, 1); // a branch from v1
        QCOMPARE(store::getTemplate(*ws, QStringLiteral("listwise")).version, 3);
        QCOMPARE(store::getTemplate(*ws, QStringLiteral("listwise@2")).note, QStringLiteral("shorter"));
        QCOMPARE(store::getTemplate(*ws, QStringLiteral("listwise@1")).text, v1.text);
        QCOMPARE(store::templateVersions(*ws, QStringLiteral("listwise")).size(), 3);
        const auto latest = store::listTemplates(*ws);
        QCOMPARE(latest.size(), 3);
        QCOMPARE(latest[2].ref(), QStringLiteral("listwise@3"));
        QVERIFY(!store::findTemplate(*ws, QStringLiteral("listwise@9")));
        QVERIFY_THROWS_EXCEPTION(Error, store::getTemplate(*ws, QStringLiteral("nope")));
        QVERIFY_THROWS_EXCEPTION(Error, store::getTemplate(*ws, QStringLiteral("listwise@x")));
        QVERIFY_THROWS_EXCEPTION(Error, store::addTemplateVersion(*ws, QStringLiteral("listwise"), QStringLiteral("t"), {}, 7));
        // Every version is in the file.
        QCOMPARE(sql::queryInt(ws->db(), "SELECT count(*) FROM prompt_templates"), 5);
    }

    // Labels point at one version each, move when set again, resolve as NAME@LABEL, and
    // refuse names that would read as a version number or a missing target version.
    void labelsPointMoveAndResolve()
    {
        auto ws = Workspace::open(newPath(), Workspace::Mode::CreateOrOpen);
        store::seedDefaultTemplates(*ws);
        const QString name = QStringLiteral("listwise");
        store::addTemplateVersion(*ws, name, QStringLiteral("{{! user }}\nv2 {{k}}"), QStringLiteral("two"));
        store::addTemplateVersion(*ws, name, QStringLiteral("{{! user }}\nv3 {{k}}"), QStringLiteral("three"));
        store::setLabel(*ws, name, QStringLiteral("production"), 1);
        store::setLabel(*ws, name, QStringLiteral("staging"), 2);
        store::setLabel(*ws, name, QStringLiteral("canary"), 2);
        QCOMPARE(store::getTemplate(*ws, QStringLiteral("listwise@production")).version, 1);
        QCOMPARE(
            store::getTemplate(*ws, QStringLiteral("listwise@staging")).text, QStringLiteral("{{! user }}\nv2 {{k}}"));
        auto labels = store::labelsFor(*ws, name);
        QCOMPARE(labels.value(2), (QStringList { QStringLiteral("canary"), QStringLiteral("staging") }));
        QCOMPARE(labels.value(1), QStringList { QStringLiteral("production") });
        QVERIFY(!labels.contains(3));

        store::setLabel(*ws, name, QStringLiteral("production"), 3); // moves, one version per label
        QCOMPARE(store::getTemplate(*ws, QStringLiteral("listwise@production")).version, 3);
        labels = store::labelsFor(*ws, name);
        QVERIFY(!labels.contains(1));
        QCOMPARE(sql::queryInt(ws->db(), "SELECT count(*) FROM prompt_labels WHERE label = 'production'"), 1);

        QVERIFY(store::removeLabel(*ws, name, QStringLiteral("canary")));
        QVERIFY(!store::removeLabel(*ws, name, QStringLiteral("canary")));
        QVERIFY(!store::findTemplate(*ws, QStringLiteral("listwise@canary")));
        try {
            store::getTemplate(*ws, QStringLiteral("listwise@canary"));
            QFAIL("expected an error");
        } catch (const Error& e) {
            QVERIFY2(e.message().contains(QStringLiteral("no label \"canary\"")), qPrintable(e.message()));
            QVERIFY2(e.message().contains(QStringLiteral("production, staging")), qPrintable(e.message()));
        }
        // Bad names and targets change nothing.
        for (const char* bad : { "12", "-3", "", "a b", "x@y" })
            QVERIFY_THROWS_EXCEPTION(Error, store::setLabel(*ws, name, QString::fromLatin1(bad), 1));
        QVERIFY_THROWS_EXCEPTION(Error, store::setLabel(*ws, name, QStringLiteral("prod"), 9));
        QVERIFY_THROWS_EXCEPTION(Error, store::setLabel(*ws, QStringLiteral("nope"), QStringLiteral("prod"), 1));
        QVERIFY_THROWS_EXCEPTION(Error, store::getTemplate(*ws, QStringLiteral("listwise@0")));
        QVERIFY_THROWS_EXCEPTION(Error, store::getTemplate(*ws, QStringLiteral("listwise@")));
        QCOMPARE(sql::queryInt(ws->db(), "SELECT count(*) FROM prompt_labels"), 2);
        // Labels of one template do not leak to another.
        QVERIFY(!store::findTemplate(*ws, QStringLiteral("compact@production")));
    }

    void draftsSaveReplaceDiscard()
    {
        const QString p = newPath();
        {
            auto ws = Workspace::open(p, Workspace::Mode::CreateOrOpen);
            store::seedDefaultTemplates(*ws);
            store::saveDraft(*ws, store::Draft { QStringLiteral("listwise"), 1, QStringLiteral("edited once"), 0 });
            store::saveDraft(*ws, store::Draft { QStringLiteral("listwise"), 1, QStringLiteral("edited twice"), 0 });
            store::saveDraft(
                *ws, store::Draft { QStringLiteral("brand-new"), std::nullopt, QStringLiteral("new one"), 5 });
            QVERIFY_THROWS_EXCEPTION(Error, store::saveDraft(*ws, store::Draft { QStringLiteral("a@b"), {}, {}, 0 }));
        }
        auto ws = Workspace::open(p); // a new connection: what a restart after a crash sees
        const auto d = store::loadDraft(*ws, QStringLiteral("listwise"));
        QVERIFY(d);
        QCOMPARE(d->text, QStringLiteral("edited twice"));
        QCOMPARE(*d->baseVersion, 1);
        QVERIFY(d->updatedAt > 0);
        const auto fresh = store::loadDraft(*ws, QStringLiteral("brand-new"));
        QVERIFY(fresh && !fresh->baseVersion);
        QCOMPARE(fresh->updatedAt, 5);
        QCOMPARE(store::listDrafts(*ws).size(), 2);
        QVERIFY(store::discardDraft(*ws, QStringLiteral("listwise")));
        QVERIFY(!store::loadDraft(*ws, QStringLiteral("listwise")));
        QVERIFY(!store::discardDraft(*ws, QStringLiteral("listwise")));
        // Drafts are not versions.
        QCOMPARE(store::templateVersions(*ws, QStringLiteral("listwise")).size(), 1);
        QVERIFY(!store::findTemplate(*ws, QStringLiteral("brand-new")));
    }

    void migrationFromV3KeepsTemplatesAndAddsLabels()
    {
        const QString p = newPath();
        Workspace::createAtVersion(p, 3);
        {
            sqlite3* db = nullptr;
            QCOMPARE(sqlite3_open(p.toUtf8().constData(), &db), SQLITE_OK);
            QCOMPARE(sqlite3_exec(db,
                         "INSERT INTO prompt_templates(name, version, text, created_at) VALUES('old', 1, 'x {{k}}', 1);"
                         "INSERT INTO prompt_templates(name, version, parent_version, text, created_at) "
                         "VALUES('old', 2, 1, 'y {{k}}', 2);",
                         nullptr, nullptr, nullptr),
                SQLITE_OK);
            sqlite3_close(db);
        }
        auto ws = Workspace::open(p);
        QCOMPARE(ws->schemaVersion(), Workspace::kSchemaVersion);
        QCOMPARE(store::templateVersions(*ws, QStringLiteral("old")).size(), 2);
        QVERIFY(store::labelsFor(*ws, QStringLiteral("old")).isEmpty());
        store::setLabel(*ws, QStringLiteral("old"), QStringLiteral("production"), 1);
        QCOMPARE(store::getTemplate(*ws, QStringLiteral("old@production")).text, QStringLiteral("x {{k}}"));
        QVERIFY(store::listDrafts(*ws).isEmpty());
    }

    void endpointsRoundTripWithoutSecrets()
    {
        const QString p = newPath();
        EndpointProfile e;
        e.name = QStringLiteral("gpt-4.1-mini");
        e.kind = ProviderKind::OpenAiChat;
        e.baseUrl = QStringLiteral("https://api.openai.com/v1");
        e.model = QStringLiteral("gpt-4.1-mini");
        e.keyEnv = QStringLiteral("OPENAI_API_KEY");
        e.timeoutMs = 30000;
        e.maxConcurrent = 2;
        e.temperature = 0.2;
        e.maxOutputTokens = 900;
        e.maxRetries = 3;
        e.prices.input = 0.4;
        e.prices.output = 1.6;
        e.prices.asOf = QStringLiteral("2025-07-04");
        {
            auto ws = Workspace::open(p, Workspace::Mode::CreateOrOpen);
            store::upsertEndpoint(*ws, e);
            e.maxRetries = 4;
            store::upsertEndpoint(*ws, e); // update in place
            store::setDefaultEndpoint(*ws, e.name);
        }
        auto ws = Workspace::open(p);
        const EndpointProfile back = store::getEndpoint(*ws, e.name);
        QCOMPARE(back.toJson(), e.toJson());
        QCOMPARE(back.maxRetries, 4);
        QCOMPARE(*back.prices.input, 0.4);
        QVERIFY(!back.prices.cachedInput);
        QCOMPARE(store::listEndpoints(*ws).size(), 2);
        QCOMPARE(store::defaultEndpoint(*ws), e.name);
        // The stored JSON names the variable, never holds a key.
        sql::Statement st(ws->db(), "SELECT profile FROM endpoints WHERE name = 'gpt-4.1-mini'");
        QVERIFY(st.step());
        QVERIFY(st.text(0).contains(u"OPENAI_API_KEY"));
        QVERIFY(!st.text(0).contains(u"\"api_key\"") && !st.text(0).contains(u"sk-"));
        // A profile carrying a key is refused.
        QJsonObject withKey = e.toJson();
        withKey.insert(QStringLiteral("api_key"), QStringLiteral("sk-secret"));
        QVERIFY_THROWS_EXCEPTION(Error, EndpointProfile::fromJson(withKey));
        QVERIFY(store::removeEndpoint(*ws, e.name));
        QVERIFY(!store::removeEndpoint(*ws, e.name));
        QCOMPARE(store::defaultEndpoint(*ws), QStringLiteral("offline"));
        QVERIFY_THROWS_EXCEPTION(Error, store::setDefaultEndpoint(*ws, QStringLiteral("gone")));
    }

    void cacheTtlAndHits()
    {
        auto ws = Workspace::open(newPath(), Workspace::Mode::CreateOrOpen);
        qint64 now = 1'000'000;
        ResponseCache cache(*ws, 60);
        cache.setClock([&] { return now; });
        EndpointProfile e;
        e.name = QStringLiteral("local");
        e.model = QStringLiteral("m");
        e.baseUrl = QStringLiteral("http://127.0.0.1:11434/v1");
        ChatRequest req;
        req.messages.append({ QStringLiteral("user"), QStringLiteral("rank these"), false });
        const QString key = cacheKey(e, req);
        QCOMPARE(key.size(), 64);
        QVERIFY(!cache.lookup(key));
        QCOMPARE(cache.misses(), 1);
        ChatResponse resp;
        resp.text = QStringLiteral("{\"recommendations\":[]}");
        resp.finish = FinishReason::Ok;
        resp.usage.inputTokens = 12;
        resp.usage.outputTokens = 5;
        cache.store(key, e, resp);
        const auto hit = cache.lookup(key);
        QVERIFY(hit);
        QCOMPARE(hit->text, resp.text);
        QCOMPARE(hit->finish, FinishReason::Ok);
        QCOMPARE(hit->usage.inputTokens, 12);
        QVERIFY(cache.lookup(key));
        QCOMPARE(cache.hits(), 2);
        QCOMPARE(store::cacheGet(*ws, key, now)->hits, 2); // counted in the table too
        QVERIFY(!cache.lookup(key, true)); // bypass
        QCOMPARE(cache.bypassed(), 1);
        QCOMPARE(cache.hits(), 2); // a bypass is not a hit
        now += 61;
        QVERIFY(!cache.lookup(key)); // expired
        QCOMPARE(store::cachePurgeExpired(*ws, now), 1);
        QCOMPARE(store::cacheSize(*ws), 0);
        // Failures and truncated answers are never cached.
        ChatResponse cut = resp;
        cut.finish = FinishReason::Truncated;
        cache.store(key, e, cut);
        QCOMPARE(store::cacheSize(*ws), 0);
    }

    // Deferred (a batch): answers are held and written in one transaction by flush(); a
    // lookup of a held key writes first and then reads it back like any entry (hit counted
    // in the table); failures are not held; turning it off writes what is held.
    void cacheDeferredWrites()
    {
        auto ws = Workspace::open(newPath(), Workspace::Mode::CreateOrOpen);
        qint64 now = 3'000'000;
        ResponseCache cache(*ws, 60);
        cache.setClock([&] { return now; });
        cache.setDeferred(true);
        EndpointProfile e;
        e.name = QStringLiteral("local");
        e.model = QStringLiteral("m");
        ChatResponse resp;
        resp.text = QStringLiteral("{\"recommendations\":[]}");
        resp.finish = FinishReason::Ok;
        QStringList keys;
        for (int i = 0; i < 3; ++i) {
            ChatRequest req;
            req.messages.append({ QStringLiteral("user"), QStringLiteral("rank these %1").arg(i), false });
            keys << cacheKey(e, req);
            cache.store(keys.back(), e, resp);
        }
        ChatResponse cut = resp;
        cut.finish = FinishReason::Truncated;
        cache.store(keys.front(), e, cut); // never held, never replaces a good answer
        QCOMPARE(cache.pending(), 3);
        QCOMPARE(store::cacheSize(*ws), 0); // nothing written yet
        const auto hit = cache.lookup(keys.at(1));
        QVERIFY(hit);
        QCOMPARE(hit->text, resp.text);
        QCOMPARE(cache.pending(), 0);
        QCOMPARE(store::cacheSize(*ws), 3);
        QCOMPARE(store::cacheGet(*ws, keys.at(1), now)->hits, 1); // the lookup was counted in the table
        QCOMPARE(store::cacheGet(*ws, keys.at(0), now)->expiresAt, now + 60);
        ChatRequest more;
        more.messages.append({ QStringLiteral("user"), QStringLiteral("one more"), false });
        cache.store(cacheKey(e, more), e, resp);
        QCOMPARE(store::cacheSize(*ws), 3);
        cache.setDeferred(false); // writes what is held
        QCOMPARE(store::cacheSize(*ws), 4);
        QCOMPARE(cache.pending(), 0);
    }

    // The issue's default: an answer is reused for one hour, then asked for again.
    void cacheDefaultTtlIsOneHour()
    {
        auto ws = Workspace::open(newPath(), Workspace::Mode::CreateOrOpen);
        qint64 now = 2'000'000;
        ResponseCache cache(*ws); // what the pipeline constructs
        QCOMPARE(ResponseCache::kDefaultTtlSeconds, 3600);
        QCOMPARE(cache.ttlSeconds(), 3600);
        cache.setClock([&] { return now; });
        EndpointProfile e;
        e.name = QStringLiteral("local");
        e.model = QStringLiteral("m");
        ChatRequest req;
        req.messages.append({ QStringLiteral("user"), QStringLiteral("rank these"), false });
        const QString key = cacheKey(e, req);
        ChatResponse resp;
        resp.text = QStringLiteral("{\"recommendations\":[]}");
        resp.finish = FinishReason::Ok;
        cache.store(key, e, resp);
        QCOMPARE(store::cacheGet(*ws, key, now)->expiresAt, now + 3600);
        now += 3599;
        QVERIFY(cache.lookup(key)); // still fresh one second before the hour
        now += 1;
        QVERIFY(!cache.lookup(key)); // expired at exactly one hour
    }

    void cacheKeyCoversWhatDeterminesTheAnswer()
    {
        EndpointProfile e;
        e.model = QStringLiteral("m");
        e.baseUrl = QStringLiteral("https://a.example/v1");
        ChatRequest r;
        r.messages.append({ QStringLiteral("user"), QStringLiteral("x"), false });
        const QString base = cacheKey(e, r);
        QCOMPARE(cacheKey(e, r), base);
        auto differs = [&](EndpointProfile e2, ChatRequest r2) { return cacheKey(e2, r2) != base; };
        EndpointProfile m = e;
        m.model = QStringLiteral("m2");
        QVERIFY(differs(m, r));
        EndpointProfile u = e;
        u.baseUrl = QStringLiteral("https://b.example/v1");
        QVERIFY(differs(u, r));
        EndpointProfile k = e;
        k.kind = ProviderKind::Anthropic;
        QVERIFY(differs(k, r));
        ChatRequest t = r;
        t.temperature = 0.5;
        QVERIFY(differs(e, t));
        ChatRequest mo = r;
        mo.maxOutputTokens = 100;
        QVERIFY(differs(e, mo));
        ChatRequest s = r;
        s.jsonSchema = answerSchema();
        QVERIFY(differs(e, s));
        ChatRequest msg = r;
        msg.messages[0].content = QStringLiteral("y");
        QVERIFY(differs(e, msg));
        EndpointProfile named = e;
        named.name = QStringLiteral("another name, same server");
        QVERIFY(!differs(named, r));

        // The structured-output mode: an answer made under one mode is never returned under another.
        ChatRequest withSchema = r;
        withSchema.jsonSchema = answerSchema();
        QSet<QString> keys;
        for (const OutputMode mode : { OutputMode::JsonSchema, OutputMode::JsonObject, OutputMode::Text }) {
            EndpointProfile om = e;
            om.structuredOutput = mode;
            keys.insert(cacheKey(om, withSchema));
        }
        QCOMPARE(keys.size(), 3);
        // Where the mode does not reach the wire it does not split the cache: Anthropic keeps
        // its own schema mechanism, and a request without a schema is text in every mode.
        EndpointProfile a1 = k;
        EndpointProfile a2 = k;
        a2.structuredOutput = OutputMode::Text;
        QCOMPARE(cacheKey(a1, withSchema), cacheKey(a2, withSchema));
        EndpointProfile t2 = e;
        t2.structuredOutput = OutputMode::JsonObject;
        QVERIFY(!differs(t2, r));
    }

    void migrationFromV2KeepsData()
    {
        const QString p = newPath();
        Workspace::createAtVersion(p, 2);
        {
            sqlite3* db = nullptr;
            QCOMPARE(sqlite3_open(p.toUtf8().constData(), &db), SQLITE_OK);
            QCOMPARE(sqlite3_exec(db,
                         "INSERT INTO meta(key, value) VALUES('name', 'old');"
                         "INSERT INTO users(id, external_id) VALUES(1, 'u1');"
                         "INSERT INTO items(id, external_id, title) VALUES(1, 'i1', 'Old item');"
                         "INSERT INTO interactions VALUES(1, 1, 4.0, 7);"
                         "INSERT INTO annotations(user_id, item_id, kind, created_at) VALUES(1, 1, 'verdict', 1);",
                         nullptr, nullptr, nullptr),
                SQLITE_OK);
            sqlite3_close(db);
        }
        auto ws = Workspace::open(p);
        QCOMPARE(ws->schemaVersion(), Workspace::kSchemaVersion);
        QCOMPARE(ws->summary().interactions, 1);
        QCOMPARE(ws->meta(QStringLiteral("name")), QStringLiteral("old"));
        QCOMPARE(sql::queryInt(ws->db(), "SELECT count(*) FROM annotations"), 1);
        QCOMPARE(store::getEndpoint(*ws, QStringLiteral("offline")).kind, ProviderKind::Offline);
        QCOMPARE(store::defaultEndpoint(*ws), QStringLiteral("offline"));
        QCOMPARE(sql::queryInt(ws->db(), "SELECT count(*) FROM rerank_runs"), 0);
        QCOMPARE(sql::queryInt(ws->db(), "SELECT count(*) FROM rerank_results"), 0);
        QCOMPARE(store::seedDefaultTemplates(*ws), 3);
    }
};

QTEST_APPLESS_MAIN(TestRerankStore)
#include "tst_rerankstore.moc"
